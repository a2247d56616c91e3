namespace SharpSeek.Fuzz;

/// <summary>
/// A blind mutation loop without afl (<c>SharpSeek.Fuzz &lt;target&gt; --smoke N [corpus dir]</c>): random byte
/// edits of the corpus, run in this process on the uninstrumented build. It has no coverage feedback, but a
/// process-killing fault (a stack overflow, an access violation) shows its stack trace here, where afl-fuzz only
/// reports that its fork server died. Each input is written to smoke-last.bin before it runs, so the last one
/// written before such a fault is its reproducer.
/// </summary>
internal static class Smoke
{
    public static int Run(FuzzTarget target, int iterations, string corpusDir)
    {
        var seeds = Directory.GetFiles(corpusDir).Order(StringComparer.Ordinal).Select(File.ReadAllBytes).ToArray();
        var rng = new Random(12345);
        int findings = 0;
        for (int i = 0; i < iterations; i++)
        {
            var input = Mutate(seeds[rng.Next(seeds.Length)], rng);
            File.WriteAllBytes("smoke-last.bin", input);
            try { FuzzHarness.Execute(target, input); }
            catch (Exception e)
            {
                findings++;
                string name = $"smoke-finding-{findings}.bin";
                File.WriteAllBytes(name, input);
                Console.WriteLine($"FINDING {name}: {e.GetType().FullName}: {e.Message}\n{e.StackTrace}");
            }
        }
        Console.WriteLine($"{target.Name}: {iterations} mutated inputs, {findings} findings");
        return findings == 0 ? 0 : 1;
    }

    private static byte[] Mutate(byte[] seed, Random rng)
    {
        var b = new List<byte>(seed);
        byte[] interesting = [0, 1, 0x7F, 0x80, 0xFF, (byte)'"', (byte)'\\', (byte)'{', (byte)'['];
        for (int m = rng.Next(1, 9); m > 0; m--)
        {
            if (b.Count == 0) { b.Add((byte)rng.Next(256)); continue; }
            int at = rng.Next(b.Count);
            switch (rng.Next(6))
            {
                case 0: b[at] ^= (byte)(1 << rng.Next(8)); break;
                case 1: b[at] = interesting[rng.Next(interesting.Length)]; break;
                case 2: b[at] = (byte)rng.Next(256); break;
                case 3: b.RemoveRange(at, Math.Min(rng.Next(1, 16), b.Count - at)); break;
                case 4: b.Insert(at, (byte)rng.Next(256)); break;
                default:
                    int len = Math.Min(rng.Next(1, 64), b.Count - at);
                    b.InsertRange(rng.Next(b.Count), b.GetRange(at, len));
                    break;
            }
        }
        return b.ToArray();
    }
}
