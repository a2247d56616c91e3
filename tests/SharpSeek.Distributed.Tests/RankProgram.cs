using System.Globalization;

namespace SharpSeek.Distributed.Tests;

/// <summary>
/// What each rank of a test job runs (<c>mpirun -np N dotnet SharpSeek.Distributed.Tests.dll SCENARIO</c>). A scenario
/// checks its results on every rank and throws on the first difference, so the job's exit code is the verdict.
/// </summary>
public static class RankProgram
{
    public static int Main(string[] args)
    {
        using var world = Communicator.FromEnvironment();
        switch (args.FirstOrDefault())
        {
            case "collectives": Collectives(world); break;
            case "die": Die(world, int.Parse(args[1], CultureInfo.InvariantCulture)); break;
            default: Console.Error.WriteLine("scenarios: collectives | die RANK"); return 2;
        }
        Console.WriteLine($"rank {world.Rank}/{world.Size} ok ({world.Description})");
        return 0;
    }

    /// <summary>Every collective with values that depend on the rank, against the sums worked out here by hand.</summary>
    private static unsafe void Collectives(ICommunicator world)
    {
        int r = world.Rank, n = world.Size;
        if (n < 2) throw new InvalidOperationException($"expected a multi-process job, got {n} process(es)");
        int ranksTotal = n * (n - 1) / 2; // Σ r

        var f = new float[1000];
        for (int i = 0; i < f.Length; i++) f[i] = r + i * 0.5f;
        world.AllReduceSum(f);
        for (int i = 0; i < f.Length; i++) Expect(f[i], ranksTotal + n * i * 0.5f, $"float sum [{i}]");

        double[] d = [r * 1.5, -r];
        world.AllReduceSum(d);
        Expect(d[0], 1.5 * ranksTotal, "double sum");
        Expect(d[1], -ranksTotal, "double sum");

        long[] l = [1L << 40, r];
        world.AllReduceSum(l);
        Expect(l[0], n * (1L << 40), "long sum");
        Expect(l[1], ranksTotal, "long sum");

        double[] m = [r, -r];
        world.AllReduceMax(m);
        Expect(m[0], n - 1, "max");
        Expect(m[1], 0, "max");

        var bytes = new byte[16];
        if (r == n - 1) for (int i = 0; i < bytes.Length; i++) bytes[i] = (byte)(i * 7);
        world.Broadcast(bytes, root: n - 1);
        for (int i = 0; i < bytes.Length; i++) Expect(bytes[i], (byte)(i * 7), "broadcast");

        // Uneven parts: rank q contributes q + 1 values equal to 100q + index.
        var counts = Enumerable.Range(0, n).Select(q => q + 1).ToArray();
        var mine = Enumerable.Range(0, r + 1).Select(i => 100f * r + i).ToArray();
        var all = new float[counts.Sum()];
        world.AllGatherV(mine, all, counts);
        for (int q = 0, at = 0; q < n; q++)
            for (int i = 0; i <= q; i++) Expect(all[at++], 100f * q + i, "all-gather");
        // Integers above 2^24 would not survive a trip as floats: token ids and counts travel as ints.
        var mineInts = Enumerable.Range(0, r + 1).Select(i => (1 << 25) + 100 * r + i).ToArray();
        var allInts = new int[counts.Sum()];
        world.AllGatherV(mineInts, allInts, counts);
        for (int q = 0, at = 0; q < n; q++)
            for (int i = 0; i <= q; i++) Expect(allInts[at++], (1 << 25) + 100 * q + i, "all-gather (int)");

        // All-to-all: rank r sends (r + q) values to rank q, each encoding (from, to, index).
        var sendCounts = Enumerable.Range(0, n).Select(q => r + q).ToArray();
        var receiveCounts = Enumerable.Range(0, n).Select(s => s + r).ToArray();
        var send = new List<float>();
        var sendInts = new List<int>();
        for (int q = 0; q < n; q++)
            for (int i = 0; i < r + q; i++) { send.Add(10000f * r + 100f * q + i); sendInts.Add(-(10000 * r + 100 * q + i)); }
        var received = new float[receiveCounts.Sum()];
        var receivedInts = new int[receiveCounts.Sum()];
        world.AllToAllV(send.ToArray(), sendCounts, received, receiveCounts);
        world.AllToAllV(sendInts.ToArray(), sendCounts, receivedInts, receiveCounts);
        for (int s = 0, at = 0; s < n; s++)
            for (int i = 0; i < s + r; i++, at++)
            {
                Expect(received[at], 10000f * s + 100f * r + i, "all-to-all");
                Expect(receivedInts[at], -(10000 * s + 100 * r + i), "all-to-all (int)");
            }

        // Nonblocking sum, progressed by Test while "work" happens, then waited.
        var big = new float[1 << 16];
        Array.Fill(big, r + 1f);
        fixed (float* p = big)
        {
            var pending = world.StartAllReduceSum(p, big.Length);
            while (!pending.Test()) Thread.SpinWait(100);
            pending.Wait();
        }
        Expect(big[0], n * (n + 1) / 2f, "nonblocking sum");
        Expect(big[^1], n * (n + 1) / 2f, "nonblocking sum");

        world.Barrier();
    }

    /// <summary>Rank <paramref name="victim"/> dies abruptly while the others wait in a collective: the job must end, not hang.</summary>
    private static void Die(ICommunicator world, int victim)
    {
        world.Barrier();
        if (world.Rank == victim)
        {
            Console.WriteLine($"rank {victim} dying");
            Console.Out.Flush();
            Environment.FailFast("test: this rank dies on purpose");
        }
        var values = new float[4];
        world.AllReduceSum(values); // never completes: the victim is gone
        throw new InvalidOperationException("a collective completed without the dead rank");
    }

    private static void Expect<T>(T actual, T expected, string what) where T : IEquatable<T>
    {
        if (!actual.Equals(expected)) throw new InvalidOperationException($"{what}: expected {expected}, got {actual}");
    }
}
