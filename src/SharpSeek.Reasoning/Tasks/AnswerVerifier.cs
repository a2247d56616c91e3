using System.Globalization;

namespace SharpSeek.Reasoning.Tasks;

/// <summary>
/// Exact, rule-based answer checks (no model involved). Integer answers must be a plain integer (an optional final
/// period aside) equal to the reference; Countdown answers must be an arithmetic expression using every given number
/// exactly once that evaluates exactly (rational arithmetic, so 7/2*2 = 7) to the target.
/// </summary>
public static class AnswerVerifier
{
    public static bool IsCorrect(ReasoningProblem problem, string? answer)
    {
        ArgumentNullException.ThrowIfNull(problem);
        if (string.IsNullOrWhiteSpace(answer)) return false;
        string text = answer.Trim();
        if (problem.Kind == TaskKind.Countdown) return ReachesTarget(text, problem.Numbers, problem.Target);
        return TryParseInteger(text, out long value) && TryParseInteger(problem.Answer, out long expected) && value == expected;
    }

    public static bool TryParseInteger(string text, out long value)
    {
        text = text.Trim();
        if (text.EndsWith('.')) text = text[..^1];
        return long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value);
    }

    /// <summary>
    /// True when <paramref name="expression"/> parses, uses every one of <paramref name="numbers"/> exactly once and
    /// equals <paramref name="target"/>. Every number must be used: otherwise a target that happens to be one of the
    /// numbers is "reached" by writing it down, and any subset that works pays as well as the whole puzzle.
    /// </summary>
    public static bool ReachesTarget(string expression, IReadOnlyList<int> numbers, long target)
    {
        var parser = new ExpressionParser(expression, numbers);
        return parser.TryEvaluate(out var value) && parser.UsedAll && value.Denominator == 1 && value.Numerator == target;
    }

    /// <summary>A reduced fraction; overflow and division by zero make evaluation fail rather than wrap.</summary>
    internal readonly record struct Rational(long Numerator, long Denominator)
    {
        public static Rational Of(long n, long d)
        {
            if (d == 0) throw new DivideByZeroException();
            if (d < 0) { n = checked(-n); d = checked(-d); }
            long g = Gcd(Math.Abs(n), d);
            return g > 1 ? new(n / g, d / g) : new(n, d);
        }

        private static long Gcd(long a, long b)
        {
            while (b != 0) (a, b) = (b, a % b);
            return a == 0 ? 1 : a;
        }

        public static Rational operator +(Rational a, Rational b) => Of(checked(a.Numerator * b.Denominator + b.Numerator * a.Denominator), checked(a.Denominator * b.Denominator));
        public static Rational operator -(Rational a, Rational b) => Of(checked(a.Numerator * b.Denominator - b.Numerator * a.Denominator), checked(a.Denominator * b.Denominator));
        public static Rational operator *(Rational a, Rational b) => Of(checked(a.Numerator * b.Numerator), checked(a.Denominator * b.Denominator));
        public static Rational operator /(Rational a, Rational b) => Of(checked(a.Numerator * b.Denominator), checked(a.Denominator * b.Numerator));
    }

    /// <summary>Recursive descent over: expr = term (('+'|'-') term)*; term = factor (('*'|'/'|'×'|'÷') factor)*; factor = integer | '(' expr ')'.</summary>
    private sealed class ExpressionParser(string text, IReadOnlyList<int> numbers)
    {
        private readonly List<int> _unused = [.. numbers];
        private int _pos;

        public bool UsedAll => _unused.Count == 0;

        public bool TryEvaluate(out Rational value)
        {
            value = default;
            try
            {
                if (text.Length > 200) return false;
                value = Expr();
                Skip();
                return _pos == text.Length;
            }
            catch (Exception e) when (e is FormatException or DivideByZeroException or OverflowException)
            {
                return false;
            }
        }

        private void Skip()
        {
            while (_pos < text.Length && char.IsWhiteSpace(text[_pos])) _pos++;
        }

        private char Peek()
        {
            Skip();
            return _pos < text.Length ? text[_pos] : '\0';
        }

        private Rational Expr()
        {
            var v = Term();
            while (Peek() is '+' or '-')
            {
                char op = text[_pos++];
                var r = Term();
                v = op == '+' ? v + r : v - r;
            }
            return v;
        }

        private Rational Term()
        {
            var v = Factor();
            while (Peek() is '*' or '/' or '×' or '÷' or 'x')
            {
                char op = text[_pos++];
                var r = Factor();
                v = op is '/' or '÷' ? v / r : v * r;
            }
            return v;
        }

        private Rational Factor()
        {
            char c = Peek();
            if (c == '(')
            {
                _pos++;
                var v = Expr();
                if (Peek() != ')') throw new FormatException("unclosed parenthesis");
                _pos++;
                return v;
            }
            int start = _pos;
            while (_pos < text.Length && char.IsAsciiDigit(text[_pos])) _pos++;
            if (_pos == start || _pos - start > 9) throw new FormatException("expected a number");
            int n = int.Parse(text.AsSpan(start, _pos - start), CultureInfo.InvariantCulture);
            // Each given number may be used once: a number not (or no longer) available makes the answer invalid.
            if (!_unused.Remove(n)) throw new FormatException($"{n} is not an available number");
            return new Rational(n, 1);
        }
    }
}
