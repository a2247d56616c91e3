using SharpSeek.Tensors.Threading;

namespace SharpSeek.Tensors.Tests;

public class ComputePoolTests
{
    private struct MarkBody : IRangeBody
    {
        public int[] Hits;
        public int[] Workers;
        public void Execute(int start, int end, int worker)
        {
            for (int i = start; i < end; i++) { Interlocked.Increment(ref Hits[i]); Workers[i] = worker; }
        }
    }

    [Theory]
    [InlineData(1, 1000, 1)]
    [InlineData(2, 1000, 1)]
    [InlineData(3, 7, 1)]
    [InlineData(2, 10, 100)] // below the grain: serial on the caller
    public void EveryIterationRunsExactlyOnce(int threads, int count, int grain)
    {
        using var pool = new ComputePool(threads);
        for (int round = 0; round < 200; round++)
        {
            var body = new MarkBody { Hits = new int[count], Workers = new int[count] };
            pool.For(count, grain, ref body);
            Assert.All(body.Hits, h => Assert.Equal(1, h));
            Assert.All(body.Workers, w => Assert.InRange(w, 0, threads - 1));
            if (count <= grain) Assert.All(body.Workers, w => Assert.Equal(0, w));
        }
    }

    [Fact]
    public void ForEachThreadGivesEachThreadOneContiguousShare()
    {
        using var pool = new ComputePool(2);
        var body = new MarkBody { Hits = new int[9], Workers = new int[9] };
        pool.ForEachThread(9, ref body);
        Assert.All(body.Hits, h => Assert.Equal(1, h));
    }

    private struct ThrowingBody : IRangeBody
    {
        public void Execute(int start, int end, int worker)
        {
            if (start <= 500 && 500 < end) throw new InvalidOperationException("boom at 500");
        }
    }

    [Fact]
    public void ExceptionInABodyReachesTheCallerAndThePoolStaysUsable()
    {
        using var pool = new ComputePool(2);
        var bad = new ThrowingBody();
        var ex = Assert.Throws<AggregateException>(() => pool.For(1000, 1, ref bad));
        Assert.Contains("boom at 500", ex.InnerException!.Message);
        var body = new MarkBody { Hits = new int[100], Workers = new int[100] };
        pool.For(100, 1, ref body);
        Assert.All(body.Hits, h => Assert.Equal(1, h));
    }

    private struct NestedBody : IRangeBody
    {
        public ComputePool Pool;
        public int[] Hits;
        public void Execute(int start, int end, int worker)
        {
            for (int i = start; i < end; i++)
            {
                var inner = new MarkBody { Hits = new int[10], Workers = new int[10] };
                Pool.For(10, 1, ref inner); // must run serially inside a body, not deadlock
                Interlocked.Add(ref Hits[i], inner.Hits.Sum());
            }
        }
    }

    [Fact]
    public void NestedLoopsRunSeriallyInsteadOfDeadlocking()
    {
        using var pool = new ComputePool(2);
        var body = new NestedBody { Pool = pool, Hits = new int[50] };
        pool.For(50, 1, ref body);
        Assert.All(body.Hits, h => Assert.Equal(10, h));
    }

    [Fact]
    public void LoopsFromManyCallerThreadsAreSerialisedSafely()
    {
        using var pool = new ComputePool(2);
        Parallel.For(0, 8, _ =>
        {
            for (int r = 0; r < 50; r++)
            {
                var body = new MarkBody { Hits = new int[300], Workers = new int[300] };
                pool.For(300, 1, ref body);
                Assert.All(body.Hits, h => Assert.Equal(1, h));
            }
        });
    }
}
