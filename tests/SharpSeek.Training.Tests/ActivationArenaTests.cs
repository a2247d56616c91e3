using SharpSeek.Training.Autodiff;

namespace SharpSeek.Training.Tests;

/// <summary>The tape's activation memory: reused when shapes repeat, bounded when they do not.</summary>
public sealed class ActivationArenaTests
{
    [Theory]
    [InlineData(1, 64)]
    [InlineData(64, 64)]
    [InlineData(65, 128)]
    [InlineData(4096, 4096)]
    [InlineData(4097, 4608)]       // 4 KiB · (1 + 1/8)
    [InlineData(1_000_000, 1_048_576)]
    [InlineData(1_048_577, 1_179_648)]
    public void SizeClassesRoundUpByAtMostAnEighth(long request, long expected) => Assert.Equal(expected, ActivationArena.SizeClass(request));

    [Fact]
    public void EverySizeClassHoldsItsRequestWithAtMostOneEighthSlack()
    {
        var rng = new Random(3);
        for (int i = 0; i < 10_000; i++)
        {
            long request = rng.NextInt64(1, 1L << 34);
            long size = ActivationArena.SizeClass(request);
            Assert.InRange(size, request, Math.Max(request + 63, request + request / 8 + 1));
            Assert.Equal(0, size % 64);
        }
    }

    [Fact]
    public void RepeatedShapesAllocateNothingAfterTheFirstStep()
    {
        using var tape = new Tape<float>(GradientCheck.Pool);
        for (int step = 0; step < 5; step++)
        {
            tape.NewNode(37, 129, requiresGrad: false);
            tape.NewNode(8, 1000, requiresGrad: false);
            tape.Reset();
        }
        long owned = tape.OwnedActivationBytes;
        tape.NewNode(37, 129, requiresGrad: false);
        tape.NewNode(8, 1000, requiresGrad: false);
        tape.Reset();
        Assert.Equal(owned, tape.OwnedActivationBytes);
    }

    /// <summary>GRPO and SFT batches are padded to their longest example, so every step has new shapes; before the
    /// bound, a GRPO run kept every one of them and grew by ~200 MB a step until the OOM killer stopped it.</summary>
    [Fact]
    public void ChangingShapesKeepMemoryBoundedByTheLargestRecentStep()
    {
        using var tape = new Tape<float>(GradientCheck.Pool);
        var rng = new Random(5);
        long largestStep = 0;
        for (int step = 0; step < 400; step++)
        {
            int length = rng.Next(40, 200);
            long stepBytes = 0;
            for (int layer = 0; layer < 6; layer++)
            {
                tape.NewNode(96 * length, 32 + layer, requiresGrad: false);
                stepBytes += ActivationArena.SizeClass(96L * length * (32 + layer) * sizeof(float));
            }
            largestStep = Math.Max(largestStep, stepBytes);
            tape.Reset();
            Assert.True(tape.OwnedActivationBytes <= 2 * largestStep,
                $"step {step}: the arena owns {tape.OwnedActivationBytes:N0} bytes, the largest step needed {largestStep:N0}");
        }
    }
}
