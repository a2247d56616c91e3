using System.Text;
using System.Text.RegularExpressions;

namespace SharpSeek.Reasoning.Tasks;

/// <summary>
/// The train / dev / test split as a pure function of a problem's facts. Each fact key is hashed (FNV-1a-64 of its
/// UTF-8 bytes): the lowest <see cref="TestPercent"/> percent are Test, the next <see cref="DevPercent"/> Dev, the rest
/// Train. A problem is on a split only when every one of its facts is; a problem whose facts disagree is on none and
/// is never drawn. So the splits share no fact — not through a commuted twin (12 + 34 / 34 + 12), an inverse
/// (46 − 12 = 34 is 12 + 34 = 46), or another family stating it (a word problem's underlying sum) — whatever seed,
/// order or generator produced them.
/// </summary>
public static partial class ProblemSplit
{
    public const int TestPercent = 15;
    public const int DevPercent = 10;

    public static ulong KeyHash(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        ulong hash = 14695981039346656037UL;
        foreach (byte b in Encoding.UTF8.GetBytes(key))
        {
            hash ^= b;
            hash *= 1099511628211UL;
        }
        // FNV's low bits mix poorly for short keys; fold the high half in before taking the remainder.
        return hash ^ (hash >> 29);
    }

    /// <summary>The split of one fact (or canonical) key.</summary>
    public static DataSplit Of(string key)
    {
        ulong bucket = KeyHash(key) % 100;
        return bucket < TestPercent ? DataSplit.Test : bucket < TestPercent + DevPercent ? DataSplit.Dev : DataSplit.Train;
    }

    /// <summary>The split every fact of <paramref name="problem"/> is on, or null when they disagree (the problem is on none).</summary>
    public static DataSplit? Of(ReasoningProblem problem)
    {
        if (problem.Facts.Count == 0) return Of(problem.CanonicalKey);
        var split = Of(problem.Facts[0]);
        for (int i = 1; i < problem.Facts.Count; i++)
            if (Of(problem.Facts[i]) != split) return null;
        return split;
    }

    /// <summary>
    /// The normalised key of the fact <c>x op y = z</c>: sums and products with their operands ordered, a difference
    /// as the sum it inverts (x − y = z is y + z = x), a quotient as the product it inverts.
    /// </summary>
    public static string Fact(long x, char op, long y, long z) => op switch
    {
        '+' => $"sum:{Math.Min(x, y)},{Math.Max(x, y)}",
        '-' => $"sum:{Math.Min(y, z)},{Math.Max(y, z)}",
        '*' => $"prod:{Math.Min(x, y)},{Math.Max(x, y)}",
        '/' => $"prod:{Math.Min(y, z)},{Math.Max(y, z)}",
        _ => throw new ArgumentOutOfRangeException(nameof(op), op, "not an arithmetic operator"),
    };

    /// <summary>The facts of a trace whose steps are written <c>x op y = z</c> (expressions and word problems).</summary>
    public static IReadOnlyList<string> FactsOf(string reasoning)
    {
        var facts = new List<string>();
        foreach (Match m in Step().Matches(reasoning))
        {
            long x = long.Parse(m.Groups[1].ValueSpan, System.Globalization.CultureInfo.InvariantCulture);
            long y = long.Parse(m.Groups[3].ValueSpan, System.Globalization.CultureInfo.InvariantCulture);
            long z = long.Parse(m.Groups[4].ValueSpan, System.Globalization.CultureInfo.InvariantCulture);
            string f = Fact(x, m.Groups[2].ValueSpan[0], y, z);
            if (!facts.Contains(f)) facts.Add(f);
        }
        return facts;
    }

    [GeneratedRegex(@"(\d+) ([-+*/]) (\d+) = (\d+)")]
    private static partial Regex Step();
}
