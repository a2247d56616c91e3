using SharpSeek.Tensors;
using System.Globalization;
using System.Text;
using SharpSeek.Training;

namespace SharpSeek.Reasoning.Tasks;

/// <summary>
/// Draws problems of every <see cref="TaskKind"/> at difficulty 1…<see cref="MaxDifficulty"/>, each with its answer
/// and a reasoning trace written the way a careful student would: one small, checkable step per line.
/// </summary>
public static class ProblemGenerator
{
    public const int MaxDifficulty = 3;

    public static IReadOnlyList<TaskKind> Kinds { get; } = Enum.GetValues<TaskKind>();

    public static ReasoningProblem Generate(TaskKind kind, int difficulty, ref DeterministicRandom rng)
    {
        if (difficulty is < 1 or > MaxDifficulty)
            throw new ArgumentOutOfRangeException(nameof(difficulty), difficulty, $"difficulty must be in [1, {MaxDifficulty}]");
        return kind switch
        {
            TaskKind.Arithmetic => Arithmetic(difficulty, ref rng),
            TaskKind.Expression => Expression(difficulty, ref rng),
            TaskKind.Countdown => Countdown(difficulty, ref rng),
            TaskKind.WordProblem => WordProblem(difficulty, ref rng),
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown task kind"),
        };
    }

    /// <summary>
    /// A problem of <paramref name="kind"/> and <paramref name="difficulty"/> on <paramref name="split"/> (rejection
    /// sampling: every fact of it must be on that split, which for three-step problems on Dev is one draw in a thousand).
    /// </summary>
    public static ReasoningProblem Generate(TaskKind kind, int difficulty, DataSplit split, ref DeterministicRandom rng)
    {
        for (int attempt = 0; attempt < 200_000; attempt++)
        {
            var p = Generate(kind, difficulty, ref rng);
            if (ProblemSplit.Of(p) == split) return p;
        }
        throw new InvalidOperationException($"no {split} problem of {kind} at difficulty {difficulty} in 200000 draws");
    }

    /// <summary>
    /// A training-split problem of a uniformly drawn kind, at a difficulty drawn uniformly from
    /// <paramref name="difficulties"/> (null: every difficulty). A difficulty listed twice is drawn twice as often, which
    /// is how a stage weights its mix. The kind is drawn from <paramref name="kinds"/> the same way (null: every kind).
    /// </summary>
    public static ReasoningProblem DrawTraining(ref DeterministicRandom rng, int[]? difficulties, TaskKind[]? kinds = null)
    {
        if (difficulties is { Length: 0 }) throw new ArgumentException("the difficulty list is empty", nameof(difficulties));
        if (kinds is { Length: 0 }) throw new ArgumentException("the task list is empty", nameof(kinds));
        IReadOnlyList<TaskKind> from = kinds ?? Kinds;
        var kind = from[rng.NextInt(from.Count)];
        int d = difficulties is null ? 1 + rng.NextInt(MaxDifficulty) : difficulties[rng.NextInt(difficulties.Length)];
        return Generate(kind, d, DataSplit.Train, ref rng);
    }

    /// <summary>A training-split problem of a (kind, difficulty) cell drawn uniformly from <paramref name="cells"/>.</summary>
    public static ReasoningProblem DrawTrainingFrom(ref DeterministicRandom rng, IReadOnlyList<(TaskKind Kind, int Difficulty)> cells)
    {
        if (cells.Count == 0) throw new ArgumentException("the cell list is empty", nameof(cells));
        var (kind, d) = cells[rng.NextInt(cells.Count)];
        return Generate(kind, d, DataSplit.Train, ref rng);
    }

    /// <summary><paramref name="count"/> distinct problems of one kind and difficulty on one split, drawn from <paramref name="seed"/>.</summary>
    public static List<ReasoningProblem> DistinctSet(TaskKind kind, int difficulty, DataSplit split, int count, ulong seed)
    {
        var rng = new DeterministicRandom(DeterministicRandom.SeedFor(seed, $"{kind}/{difficulty}/{split}"));
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var result = new List<ReasoningProblem>(count);
        for (int attempt = 0; result.Count < count && attempt < count * 200; attempt++)
        {
            var p = Generate(kind, difficulty, split, ref rng);
            if (seen.Add(p.CanonicalKey)) result.Add(p);
        }
        return result;
    }

    private static string N(long v) => v.ToString(CultureInfo.InvariantCulture);

    private static int Between(ref DeterministicRandom rng, int lo, int hi) => lo + rng.NextInt(hi - lo + 1);

    // ---- Arithmetic --------------------------------------------------------------------------------------------

    private static ReasoningProblem Arithmetic(int difficulty, ref DeterministicRandom rng)
    {
        long a, b;
        char op;
        switch (difficulty)
        {
            case 1:
                a = Between(ref rng, 10, 99); b = Between(ref rng, 10, 99); op = rng.NextInt(2) == 0 ? '+' : '-';
                break;
            case 2:
                a = Between(ref rng, 100, 999); b = Between(ref rng, 10, 999); op = rng.NextInt(2) == 0 ? '+' : '-';
                break;
            default:
                a = Between(ref rng, 12, 99); b = Between(ref rng, 3, 9); op = '*';
                break;
        }
        if (op == '-' && a < b) (a, b) = (b, a);
        string reasoning = op switch
        {
            '+' => ColumnAddition(a, b),
            '-' => ColumnSubtraction(a, b),
            _ => ColumnMultiplication(a, b),
        };
        long answer = op switch { '+' => a + b, '-' => a - b, _ => a * b };
        // Commuted twins are one problem: the key orders the operands of + and ×.
        var (first, second) = op == '-' ? (a, b) : (Math.Min(a, b), Math.Max(a, b));
        return new ReasoningProblem
        {
            Kind = TaskKind.Arithmetic, Difficulty = difficulty,
            Question = $"What is {N(a)} {op} {N(b)}?",
            Answer = N(answer), Reasoning = reasoning, CanonicalKey = $"arith:{N(first)}{op}{N(second)}",
            Facts = [ProblemSplit.Fact(a, op, b, answer)],
        };
    }

    private static readonly string[] Columns = ["ones", "tens", "hundreds", "thousands"];

    private static int Digit(long v, int column)
    {
        for (int i = 0; i < column; i++) v /= 10;
        return (int)(v % 10);
    }

    private static int DigitCount(long v) => v < 10 ? 1 : 1 + DigitCount(v / 10);

    private static string ColumnAddition(long a, long b)
    {
        var s = new StringBuilder();
        int columns = Math.Max(DigitCount(a), DigitCount(b)), carry = 0;
        for (int c = 0; c < columns; c++)
        {
            int x = Digit(a, c), y = Digit(b, c), sum = x + y + carry;
            s.Append(Columns[c]).Append(": ").Append(x).Append(" + ").Append(y);
            if (carry > 0) s.Append(" + ").Append(carry);
            s.Append(" = ").Append(sum);
            carry = sum / 10;
            s.Append(carry > 0 && c < columns - 1 ? $", write {sum % 10} carry {carry}\n" : "\n");
            if (c == columns - 1) carry = 0;
        }
        s.Append($"so {N(a)} + {N(b)} = {N(a + b)}");
        return s.ToString();
    }

    private static string ColumnSubtraction(long a, long b)
    {
        var s = new StringBuilder();
        int columns = DigitCount(a), borrow = 0;
        for (int c = 0; c < columns; c++)
        {
            int x = Digit(a, c) - borrow, y = Digit(b, c);
            s.Append(Columns[c]).Append(": ");
            if (borrow > 0) s.Append(Digit(a, c)).Append(" - 1 = ").Append(x).Append(", ");
            if (x < y)
            {
                s.Append(x).Append(" < ").Append(y).Append(", borrow: ").Append(x + 10).Append(" - ").Append(y).Append(" = ").Append(x + 10 - y).Append('\n');
                borrow = 1;
            }
            else
            {
                s.Append(x).Append(" - ").Append(y).Append(" = ").Append(x - y).Append('\n');
                borrow = 0;
            }
        }
        s.Append($"so {N(a)} - {N(b)} = {N(a - b)}");
        return s.ToString();
    }

    private static string ColumnMultiplication(long a, long b)
    {
        var s = new StringBuilder();
        int columns = DigitCount(a), carry = 0;
        for (int c = 0; c < columns; c++)
        {
            int x = Digit(a, c), product = x * (int)b + carry;
            s.Append(Columns[c]).Append(": ").Append(x).Append(" * ").Append(b);
            if (carry > 0) s.Append(" + ").Append(carry);
            s.Append(" = ").Append(product);
            carry = product / 10;
            s.Append(c < columns - 1 ? $", write {product % 10} carry {carry}\n" : "\n");
        }
        s.Append($"so {N(a)} * {N(b)} = {N(a * b)}");
        return s.ToString();
    }

    // ---- Expressions -------------------------------------------------------------------------------------------

    private static ReasoningProblem Expression(int difficulty, ref DeterministicRandom rng)
    {
        string text;
        var steps = new StringBuilder();
        long value;
        int a = Between(ref rng, 2, 20), b = Between(ref rng, 2, 20), c = Between(ref rng, 2, 9), d = Between(ref rng, 1, 9);
        switch (difficulty)
        {
            case 1:
            {
                // a + b - c, left to right.
                long ab = a + b;
                value = ab - c;
                text = $"{a} + {b} - {c}";
                steps.Append($"{a} + {b} = {ab}\n{ab} - {c} = {value}");
                break;
            }
            case 2:
            {
                bool plus = rng.NextInt(2) == 0;
                if (!plus && a < b) (a, b) = (b, a);
                long inner = plus ? a + b : a - b;
                value = inner * c;
                text = $"({a} {(plus ? '+' : '-')} {b}) * {c}";
                steps.Append($"{a} {(plus ? '+' : '-')} {b} = {inner}\n{inner} * {c} = {value}");
                break;
            }
            default:
            {
                // (a + b) * (c - d) with c > d, or (a - b) * c + d.
                if (rng.NextInt(2) == 0)
                {
                    c = Between(ref rng, 3, 12);
                    d = Between(ref rng, 1, c - 1);
                    long left = a + b, right = c - d;
                    value = left * right;
                    text = $"({a} + {b}) * ({c} - {d})";
                    steps.Append($"{a} + {b} = {left}\n{c} - {d} = {right}\n{left} * {right} = {value}");
                }
                else
                {
                    if (a < b) (a, b) = (b, a);
                    long inner = a - b, product = inner * c;
                    value = product + d;
                    text = $"({a} - {b}) * {c} + {d}";
                    steps.Append($"{a} - {b} = {inner}\n{inner} * {c} = {product}\n{product} + {d} = {value}");
                }
                break;
            }
        }
        steps.Append($"\nso {text} = {N(value)}");
        return new ReasoningProblem
        {
            Kind = TaskKind.Expression, Difficulty = difficulty, Question = $"Compute {text}.",
            Answer = N(value), Reasoning = steps.ToString(), CanonicalKey = "expr:" + text,
            Facts = ProblemSplit.FactsOf(steps.ToString()),
        };
    }

    // ---- Countdown ---------------------------------------------------------------------------------------------

    private static ReasoningProblem Countdown(int difficulty, ref DeterministicRandom rng)
    {
        int count = difficulty + 1;
        var numbers = new int[count];
        for (int i = 0; i < count; i++) numbers[i] = Between(ref rng, 1, 12);
        // Build the target by folding the numbers left to right with random operations, keeping every intermediate
        // result a positive integer; the fold is both the reference answer and the reasoning trace.
        long value = numbers[0];
        string expression = N(numbers[0]);
        var steps = new StringBuilder();
        for (int i = 1; i < count; i++)
        {
            long n = numbers[i];
            char op = rng.NextInt(3) switch { 0 => '+', 1 => '-', _ => '*' };
            if (op == '-' && value <= n) op = '+';
            if (op == '*' && (value * n > 200 || n == 1)) op = '+';
            long next = op switch { '+' => value + n, '-' => value - n, _ => value * n };
            steps.Append($"{N(value)} {op} {N(n)} = {N(next)}\n");
            expression = i == 1 ? $"{expression} {op} {N(n)}" : $"({expression}) {op} {N(n)}";
            value = next;
        }
        steps.Append($"so {expression} = {N(value)}");
        var shown = (int[])numbers.Clone();
        for (int i = shown.Length - 1; i > 0; i--)
        {
            int j = rng.NextInt(i + 1);
            (shown[i], shown[j]) = (shown[j], shown[i]);
        }
        var sorted = shown.Order().ToArray();
        string list = string.Join(", ", shown.Select(x => N(x)));
        return new ReasoningProblem
        {
            Kind = TaskKind.Countdown, Difficulty = difficulty,
            Question = $"Use {list} to make {N(value)}.",
            Answer = expression, Reasoning = steps.ToString(),
            CanonicalKey = $"countdown:{string.Join(",", sorted.Select(x => N(x)))}->{N(value)}",
            Numbers = shown, Target = value,
        };
    }

    // ---- Word problems -----------------------------------------------------------------------------------------

    private static readonly string[] Names = ["Ann", "Ben", "Cara", "Dev", "Eli", "Fay", "Gus", "Hana"];
    private static readonly string[] Items = ["apples", "books", "coins", "cards", "pens", "shells", "stamps", "marbles"];

    private static ReasoningProblem WordProblem(int difficulty, ref DeterministicRandom rng)
    {
        string name = Names[rng.NextInt(Names.Length)], item = Items[rng.NextInt(Items.Length)];
        int a = Between(ref rng, 5, 60), b = Between(ref rng, 2, 40), c = Between(ref rng, 2, 30);
        string question, key;
        var steps = new StringBuilder($"{name} starts with {a} {item}.\n");
        long value;
        switch (difficulty)
        {
            case 1:
                if (rng.NextInt(2) == 0)
                {
                    value = a + b;
                    question = $"{name} has {a} {item} and gets {b} more. How many {item} now?";
                    steps.Append($"gets {b}: {a} + {b} = {value}");
                    key = $"word:gain:{a},{b}";
                }
                else
                {
                    if (b > a) (a, b) = (b, a);
                    value = a - b;
                    question = $"{name} has {a} {item} and gives away {b}. How many {item} now?";
                    steps.Clear().Append($"{name} starts with {a} {item}.\ngives {b}: {a} - {b} = {value}");
                    key = $"word:loss:{a},{b}";
                }
                break;
            case 2:
            {
                long after = a + b;
                if (c > after) c = (int)after;
                value = after - c;
                question = $"{name} has {a} {item}, gets {b} more, then gives away {c}. How many {item} now?";
                steps.Append($"gets {b}: {a} + {b} = {after}\ngives {c}: {after} - {c} = {value}");
                key = $"word:gain-loss:{a},{b},{c}";
                break;
            }
            default:
            {
                int boxes = Between(ref rng, 2, 9), each = Between(ref rng, 2, 12);
                long bought = boxes * each, after = a + bought;
                if (c > after) c = (int)after;
                value = after - c;
                question = $"{name} has {a} {item}, buys {boxes} boxes of {each}, then gives away {c}. How many {item} now?";
                steps.Append($"buys {boxes} boxes of {each}: {boxes} * {each} = {bought}\n{a} + {bought} = {after}\ngives {c}: {after} - {c} = {value}");
                key = $"word:boxes:{a},{boxes},{each},{c}";
                break;
            }
        }
        steps.Append($"\nso {name} has {N(value)} {item}");
        return new ReasoningProblem
        {
            Kind = TaskKind.WordProblem, Difficulty = difficulty, Question = question,
            Answer = N(value), Reasoning = steps.ToString(), CanonicalKey = key,
            Facts = ProblemSplit.FactsOf(steps.ToString()),
        };
    }
}
