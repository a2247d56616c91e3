using SharpSeek.Tensors;
using System.Text;

namespace SharpSeek.Training.Data;

/// <summary>
/// A generated English-like corpus with structure a small model can learn at several depths: spelling of a small
/// vocabulary, sentence templates, a fixed "world" of facts (each person always lives in the same city and has the
/// same job, in every document, train and validation alike), two-digit addition, and counting runs. Its entropy per
/// byte falls a long way as a model learns it, which makes a falling validation loss meaningful. Deterministic per seed.
/// </summary>
public static class SyntheticCorpus
{
    private static readonly string[] People = ["alice", "bruno", "chen", "dara", "emil", "farah", "goran", "hana", "ivan", "jun", "kira", "luca", "mina", "nils", "olga", "pavel", "quinn", "rosa", "sven", "tara", "umar", "vera", "wen", "yara"];
    private static readonly string[] Cities = ["paris", "lagos", "lima", "oslo", "delhi", "cairo", "quito", "hanoi", "tokyo", "perth", "riga", "dakar"];
    private static readonly string[] Jobs = ["baker", "pilot", "doctor", "farmer", "painter", "teacher", "sailor", "miner", "singer", "judge"];
    private static readonly string[] Adjectives = ["red", "quick", "lazy", "small", "old", "bright", "quiet", "green", "brave", "cold"];
    private static readonly string[] Animals = ["fox", "dog", "cat", "owl", "horse", "mouse", "bear", "wolf"];
    private static readonly string[] Verbs = ["jumps over", "runs past", "looks at", "sleeps near", "waits for"];
    private static readonly string[] Things = ["fence", "river", "tree", "house", "stone", "bridge"];
    private static readonly string[] Numbers = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"];

    public static IEnumerable<string> Documents(ulong seed, int count)
    {
        // The world is the same for every seed: facts seen in training hold in validation.
        var world = new DeterministicRandom(0x5EEDF00DUL);
        var city = People.Select(_ => Cities[world.NextInt(Cities.Length)]).ToArray();
        var job = People.Select(_ => Jobs[world.NextInt(Jobs.Length)]).ToArray();
        var rng = new DeterministicRandom(seed);
        for (int d = 0; d < count; d++)
        {
            var sb = new StringBuilder();
            sb.Append("story ").Append(rng.NextInt(1000)).Append(":\n");
            int sentences = 3 + rng.NextInt(6);
            for (int s = 0; s < sentences; s++)
            {
                switch (rng.NextInt(5))
                {
                    case 0:
                    {
                        int p = rng.NextInt(People.Length);
                        sb.Append(People[p]).Append(" lives in ").Append(city[p]).Append(" and works as a ").Append(job[p]).Append('.');
                        break;
                    }
                    case 1:
                    {
                        int a = rng.NextInt(50), b = rng.NextInt(50);
                        sb.Append(a).Append(" plus ").Append(b).Append(" equals ").Append(a + b).Append('.');
                        break;
                    }
                    case 2:
                        sb.Append("the ").Append(Pick(ref rng, Adjectives)).Append(' ').Append(Pick(ref rng, Animals)).Append(' ')
                          .Append(Pick(ref rng, Verbs)).Append(" the ").Append(Pick(ref rng, Adjectives)).Append(' ').Append(Pick(ref rng, Things)).Append('.');
                        break;
                    case 3:
                    {
                        int start = rng.NextInt(6), len = 3 + rng.NextInt(5);
                        sb.Append("count:");
                        for (int i = start; i < start + len && i < Numbers.Length; i++) sb.Append(' ').Append(Numbers[i]);
                        sb.Append('.');
                        break;
                    }
                    default:
                    {
                        int p = rng.NextInt(People.Length);
                        sb.Append("ask ").Append(People[p]).Append(" about ").Append(city[p]).Append(", the ").Append(job[p]).Append(" knows it well.");
                        break;
                    }
                }
                sb.Append(s + 1 < sentences ? ' ' : '\n');
            }
            yield return sb.ToString();
        }
    }

    private static string Pick(ref DeterministicRandom rng, string[] words) => words[rng.NextInt(words.Length)];
}
