using System.Diagnostics;
using System.Text;
using SharpSeek.Model;
using SharpSeek.Tensors.Kernels;
using SharpSeek.Tokenizer;

namespace SharpSeek.Inference;

/// <summary>The scheduler's state for one running request: its session, sampler, penalties, text decoding and counts.</summary>
internal sealed class SequenceRun
{
    public SequenceRun(GenerationStream stream, InferenceSession session, ByteLevelBpeTokenizer tokenizer, int vocab, int maxReasoning, int hiddenSize)
    {
        Stream = stream;
        Session = session;
        var r = stream.Request;
        ulong seed = r.Sampling.Seed ?? (ulong)Random.Shared.NextInt64();
        Sampler = new Sampler(vocab, r.Sampling.ToKernelOptions(seed));
        Logits = new float[vocab];
        if (r.Sampling.FrequencyPenalty != 0 || r.Sampling.PresencePenalty != 0) Counts = new int[vocab];
        Decoder = tokenizer.CreateStreamDecoder(skipSpecialTokens: true);
        Stops = new StopStringMatcher(r.StopStrings);
        InReasoning = r.StartsInReasoning;
        MaxReasoning = r.MaxReasoningTokens ?? maxReasoning;
        if (r.JsonContent) Json = new JsonValueRecognizer();
        Hidden = new float[hiddenSize];
        StartedAt = Stopwatch.GetTimestamp();
    }

    public GenerationStream Stream { get; }
    public GenerationRequest Request => Stream.Request;
    public InferenceSession Session { get; }
    public Sampler Sampler { get; }
    /// <summary>Penalised logits (the sampler reads this copy, never the session's buffer).</summary>
    public float[] Logits { get; }
    public int[]? Counts { get; }
    public List<int> SeenTokens { get; } = [];
    public TokenStreamDecoder Decoder { get; }
    public StopStringMatcher Stops { get; }
    public JsonValueRecognizer? Json { get; }
    public StringBuilder Content { get; } = new();
    public StringBuilder Reasoning { get; } = new();

    public int Prefilled { get; set; }
    public bool CacheLookedUp { get; set; }
    public int CachedTokens { get; set; }
    public int Generated { get; set; }
    public int ReasoningTokens { get; set; }
    public bool InReasoning { get; set; }
    public int MaxReasoning { get; }
    public int LastToken { get; set; } = -1;
    public int Drafted { get; set; }
    public int Accepted { get; set; }
    /// <summary>MTP draft for the position after <see cref="LastToken"/>, or -1.</summary>
    public int DraftToken { get; set; } = -1;
    /// <summary>Final hidden state of the newest cached position (what the MTP head drafts from).</summary>
    public float[] Hidden { get; }
    public long StartedAt { get; }
    public long FirstTokenAt { get; set; }
    public bool Done { get; set; }

    public bool PrefillDone => Prefilled >= Request.PromptTokens.Length;

    /// <summary>Copies <paramref name="logits"/> and applies the frequency/presence penalties of the tokens seen so far.</summary>
    public Span<float> Penalised(ReadOnlySpan<float> logits)
    {
        var dst = Logits.AsSpan();
        logits.CopyTo(dst);
        if (Counts is not null)
        {
            float f = Request.Sampling.FrequencyPenalty, p = Request.Sampling.PresencePenalty;
            foreach (int t in SeenTokens) dst[t] -= f * Counts[t] + p;
        }
        return dst;
    }

    public void Count(int token)
    {
        if (Counts is null) return;
        if (Counts[token]++ == 0) SeenTokens.Add(token);
    }
}
