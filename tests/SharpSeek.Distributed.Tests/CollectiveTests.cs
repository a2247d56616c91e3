using SharpSeek.Tests.Mpi;

namespace SharpSeek.Distributed.Tests;

/// <summary>The MPI layer as real multi-process jobs: every collective checked on every rank, and a dying rank.</summary>
public sealed class CollectiveTests
{
    /// <summary>This test assembly run as the rank program (see <see cref="RankProgram"/>).</summary>
    private static (string Program, string[] Prefix) Self => ("dotnet", [typeof(RankProgram).Assembly.Location]);

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public async Task Every_collective_gives_each_rank_the_right_values(int ranks)
    {
        var (program, prefix) = Self;
        var job = await MpiJob.RunAsync(ranks, program, [.. prefix, "collectives"], TimeSpan.FromMinutes(2));
        Assert.True(job.ExitCode == 0, job.Output);
        for (int r = 0; r < ranks; r++) Assert.Contains($"rank {r}/{ranks} ok (Open MPI", job.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_rank_that_dies_ends_the_job_within_seconds()
    {
        var (program, prefix) = Self;
        var job = await MpiJob.RunAsync(2, program, [.. prefix, "die", "1"], TimeSpan.FromMinutes(1));
        Assert.NotEqual(0, job.ExitCode);
        Assert.Contains("rank 1 dying", job.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("completed without the dead rank", job.Output, StringComparison.Ordinal);
        Assert.True(job.Elapsed < TimeSpan.FromSeconds(30), $"the job took {job.Elapsed} to end after a rank died");
    }

    [Fact]
    public void Without_mpirun_the_world_is_one_process()
    {
        // The test host is not started by mpirun.
        using var world = Communicator.FromEnvironment();
        Assert.IsType<SingleProcess>(world);
        Assert.Equal((0, 1), (world.Rank, world.Size));
        float[] v = [1, 2];
        world.AllReduceSum(v);
        Assert.Equal([1f, 2f], v);
        var all = new float[2];
        world.AllToAllV(v, [2], all, [2]);
        Assert.Equal(v, all);
        Assert.Throws<ArgumentException>(() => world.AllGatherV(v, all, [3]));
    }
}
