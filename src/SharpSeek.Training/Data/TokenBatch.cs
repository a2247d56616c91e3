namespace SharpSeek.Training.Data;

/// <summary>
/// A micro-batch of packed sequences: <see cref="Sequences"/> rows of <see cref="SequenceLength"/> + 1 tokens each.
/// Position i of a row reads token i and is trained to predict token i+1 (main head) and, at MTP depth k, reads
/// token i+k through its embedding and predicts token i+k+1.
/// </summary>
public sealed class TokenBatch
{
    public TokenBatch(int[] tokens, int sequences, int sequenceLength)
    {
        if (sequences <= 0 || sequenceLength <= 0) throw new ArgumentException($"a batch needs sequences and positions, got {sequences}×{sequenceLength}");
        if (tokens.Length != sequences * (sequenceLength + 1))
            throw new ArgumentException($"{tokens.Length} tokens do not make {sequences} rows of {sequenceLength} + 1");
        Tokens = tokens;
        Sequences = sequences;
        SequenceLength = sequenceLength;
    }

    /// <summary>[Sequences, SequenceLength + 1] row-major.</summary>
    public int[] Tokens { get; }
    public int Sequences { get; }
    public int SequenceLength { get; }
    /// <summary>Positions that predict something: Sequences × SequenceLength.</summary>
    public int Positions => Sequences * SequenceLength;

    /// <summary>Token at offset <paramref name="offset"/> after each position (0 = the input, 1 = the main target, …); −1 past the row's end.</summary>
    public int[] Shifted(int offset)
    {
        int T = SequenceLength;
        var result = new int[Positions];
        for (int b = 0; b < Sequences; b++)
            for (int i = 0; i < T; i++)
                result[b * T + i] = i + offset <= T ? Tokens[b * (T + 1) + i + offset] : -1;
        return result;
    }

    /// <summary>The input tokens (offset 0).</summary>
    public int[] Inputs() => Shifted(0);

    /// <summary>Targets of the main head (offset 1).</summary>
    public int[] MainTargets() => Shifted(1);

    /// <summary>What MTP depth k embeds (offset k; positions past the row read token 0 and are unlabelled).</summary>
    public int[] MtpInputs(int depth) => Shifted(depth).Select(t => Math.Max(t, 0)).ToArray();

    /// <summary>What MTP depth k predicts (offset k + 1; −1 where the row has no such token).</summary>
    public int[] MtpTargets(int depth) => Shifted(depth + 1);
}
