using SharpSeek.Model;

namespace SharpSeek.Checkpoints;

/// <summary>
/// A tensor's seeded values (<see cref="TensorInit"/>, drawn under a name), produced any range of rows at a time: the
/// same numbers whichever order or thread reads them, and whichever other tensors a file holds.
/// </summary>
public sealed class RandomTensorValues(ulong seed, string seedName, int[] shape, TensorInit init) : TensorValues(shape)
{
    public TensorInit Init { get; } = init;

    protected override void Read(long firstRow, int count, Span<float> destination)
        => Init.Fill(seed, seedName, firstRow * Cols, destination);
}
