using System.Globalization;
using System.Text.RegularExpressions;

namespace SharpSeek.Reasoning.Tasks;

/// <summary>
/// Whether a response checks its own work, the behaviour R1-Zero's paper saw emerge under RL ("aha moments"). Here a
/// check is a reasoning line, after the first line whose result is the answer, that either starts with "check" or
/// "verify", or recomputes one of the question's numbers from the answer: a correct equation <c>x op y = z</c> with
/// the answer among x and y and z a number of the question (17 + 60 = 77 after 77 − 60 = 17). The generated traces
/// never do either, so any check is the model's own.
/// </summary>
public static partial class SelfCheck
{
    [GeneratedRegex(@"^\s*(-?\d+)\s*([-+*/])\s*(-?\d+)\s*=\s*(-?\d+)\s*$")]
    private static partial Regex Equation();

    [GeneratedRegex(@"\d+")]
    private static partial Regex Number();

    public static bool Finds(ReasoningProblem problem, string reasoning)
    {
        ArgumentNullException.ThrowIfNull(problem);
        ArgumentNullException.ThrowIfNull(reasoning);
        var lines = reasoning.Split('\n');
        bool integerAnswer = AnswerVerifier.TryParseInteger(problem.Answer, out long answer);
        string reached = integerAnswer ? answer.ToString(CultureInfo.InvariantCulture) : problem.Target.ToString(CultureInfo.InvariantCulture);
        // The line that reaches the answer: the first whose last number is it (the result of its step).
        int first = Array.FindIndex(lines, l => Number().Matches(l) is { Count: > 0 } numbers && numbers[^1].Value == reached);
        if (first < 0) return false;
        var questionNumbers = Number().Matches(problem.Question).Select(m => Integer(m.Value, out long v) ? v : -1).ToHashSet();
        for (int i = first + 1; i < lines.Length; i++)
        {
            string line = lines[i].TrimStart();
            if (line.StartsWith("check", StringComparison.OrdinalIgnoreCase) || line.StartsWith("verify", StringComparison.OrdinalIgnoreCase)) return true;
            if (!integerAnswer || Equation().Match(line) is not { Success: true } m) continue;
            // A model can write any number of digits: one too long for a long is simply not a check.
            if (!Integer(m.Groups[1].Value, out long x) || !Integer(m.Groups[3].Value, out long y) || !Integer(m.Groups[4].Value, out long z)) continue;
            if ((x == answer || y == answer) && questionNumbers.Contains(z) && Holds(x, m.Groups[2].Value[0], y, z)) return true;
        }
        return false;
    }

    private static bool Integer(string text, out long value) => long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value);

    /// <summary>x op y = z exactly (an overflowing product or sum is not equal to anything written).</summary>
    private static bool Holds(long x, char op, long y, long z)
    {
        try
        {
            return op switch
            {
                '+' => checked(x + y) == z,
                '-' => checked(x - y) == z,
                '*' => checked(x * y) == z,
                _ => y != 0 && x % y == 0 && x / y == z,
            };
        }
        catch (OverflowException)
        {
            return false;
        }
    }
}
