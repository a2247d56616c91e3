using System.Text;

namespace SharpSeek.Reasoning.Tasks;

/// <summary>
/// The train / held-out split as a pure function of a problem's canonical key: FNV-1a-64 of the key's UTF-8 bytes,
/// held out when the hash falls in the lowest <see cref="HeldOutPercent"/> percent. Because the split depends on nothing
/// but the key, a problem can never be on both sides, whatever seed, order or generator produced it.
/// </summary>
public static class ProblemSplit
{
    public const int HeldOutPercent = 20;

    public static ulong KeyHash(string canonicalKey)
    {
        ArgumentNullException.ThrowIfNull(canonicalKey);
        ulong hash = 14695981039346656037UL;
        foreach (byte b in Encoding.UTF8.GetBytes(canonicalKey))
        {
            hash ^= b;
            hash *= 1099511628211UL;
        }
        // FNV's low bits mix poorly for short keys; fold the high half in before taking the remainder.
        return hash ^ (hash >> 29);
    }

    public static DataSplit Of(string canonicalKey) => KeyHash(canonicalKey) % 100 < HeldOutPercent ? DataSplit.HeldOut : DataSplit.Train;

    public static DataSplit Of(ReasoningProblem problem) => Of(problem.CanonicalKey);
}
