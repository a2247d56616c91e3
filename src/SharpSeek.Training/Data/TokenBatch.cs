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
    /// <summary>
    /// Which tokens are trained on, [Sequences, SequenceLength + 1] like <see cref="Tokens"/>; null = all. A target whose
    /// flag is false becomes −1 (no label) for the main head and every MTP depth, so supervised fine-tuning can learn
    /// only the assistant's tokens while the prompt still conditions them.
    /// </summary>
    public bool[]? LossMask
    {
        get => _lossMask;
        init
        {
            if (value is not null && value.Length != Tokens.Length)
                throw new ArgumentException($"a loss mask of {value.Length} flags does not cover {Tokens.Length} tokens");
            _lossMask = value;
        }
    }

    private readonly bool[]? _lossMask;

    /// <summary>Sequences [first, first + count) as a batch of their own (a data-parallel rank's share).</summary>
    public TokenBatch Slice(int first, int count)
    {
        if (first < 0 || count <= 0 || first + count > Sequences)
            throw new ArgumentOutOfRangeException(nameof(first), $"sequences [{first}, {first + count}) are outside a batch of {Sequences}");
        if (first == 0 && count == Sequences) return this;
        int row = SequenceLength + 1;
        return new TokenBatch(Tokens.AsSpan(first * row, count * row).ToArray(), count, SequenceLength)
        {
            LossMask = _lossMask?.AsSpan(first * row, count * row).ToArray(),
        };
    }

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
    public int[] MainTargets() => Masked(Shifted(1), 1);

    /// <summary>What MTP depth k embeds (offset k; positions past the row read token 0 and are unlabelled).</summary>
    public int[] MtpInputs(int depth) => Shifted(depth).Select(t => Math.Max(t, 0)).ToArray();

    /// <summary>What MTP depth k predicts (offset k + 1; −1 where the row has no such token).</summary>
    public int[] MtpTargets(int depth) => Masked(Shifted(depth + 1), depth + 1);

    private int[] Masked(int[] targets, int offset)
    {
        if (_lossMask is null) return targets;
        int T = SequenceLength;
        for (int b = 0; b < Sequences; b++)
            for (int i = 0; i < T; i++)
                if (i + offset <= T && !_lossMask[b * (T + 1) + i + offset]) targets[b * T + i] = -1;
        return targets;
    }
}
