using System.Diagnostics;
using System.Text;
using SharpSeek.Inference.Tools;
using SharpSeek.Model;
using SharpSeek.Tensors.Kernels;
using SharpSeek.Tokenizer;

namespace SharpSeek.Inference;

/// <summary>
/// The engine's state for one admitted request: its cache (a page table in the engine's pool), the tokens it has fed
/// and drawn, its sampler, penalties, text decoding, speculation state and counts. Lives from admission to finish;
/// a preempted run keeps everything but its cache and is fed again (prompt + drawn tokens) when readmitted.
/// </summary>
internal sealed class SequenceRun
{
    private int[] _feed;

    public SequenceRun(GenerationStream stream, SequenceKv kv, ByteLevelBpeTokenizer? tokenizer, int vocab, int maxReasoning)
    {
        Stream = stream;
        Kv = kv;
        var r = stream.Request;
        ulong seed = r.Sampling.Seed ?? (ulong)Random.Shared.NextInt64();
        Sampler = new Sampler(vocab, r.Sampling.ToKernelOptions(seed));
        Logits = new float[vocab];
        if (r.Sampling.FrequencyPenalty != 0 || r.Sampling.PresencePenalty != 0) Counts = new int[vocab];
        Decoder = tokenizer?.CreateStreamDecoder(skipSpecialTokens: true);
        Stops = new StopStringMatcher(r.StopStrings);
        InReasoning = r.StartsInReasoning;
        MaxReasoning = r.MaxReasoningTokens ?? maxReasoning;
        if (r.Tools is { } tools && tokenizer is not null && !r.RawSampling && ToolTokenIds.For(tokenizer) is { Complete: true } ids
            && (tools.Choice.Kind != ToolChoiceKind.None || !r.JsonContent))
            Tools = new ToolCallRecognizer(tools, tokenizer, ids);
        else if (r.JsonContent) Json = new JsonValueRecognizer();
        _feed = new int[r.PromptTokens.Length + Math.Min(r.MaxTokens, 4096) + 2];
        r.PromptTokens.CopyTo(_feed, 0);
        FeedLength = r.PromptTokens.Length;
        StartedAt = Stopwatch.GetTimestamp();
    }

    public GenerationStream Stream { get; }
    public GenerationRequest Request => Stream.Request;
    public SequenceKv Kv { get; }
    public Sampler Sampler { get; }
    /// <summary>Penalised logits (the sampler reads this copy, never the batch's buffer).</summary>
    public float[] Logits { get; }
    public int[]? Counts { get; }
    public List<int> SeenTokens { get; } = [];
    /// <summary>Incremental text decoding; null on an engine without a tokenizer (token ids only).</summary>
    public TokenStreamDecoder? Decoder { get; }
    public StopStringMatcher Stops { get; }
    public JsonValueRecognizer? Json { get; }
    /// <summary>The tool-call grammar and parser, when the request has tools.</summary>
    public ToolCallRecognizer? Tools { get; }
    public StringBuilder Content { get; } = new();
    public StringBuilder Reasoning { get; } = new();
    /// <summary>Generated token ids (kept for requests that want them, e.g. rollouts).</summary>
    public List<int>? GeneratedTokens { get; set; }

    /// <summary>
    /// The token stream the cache must hold: the prompt, then every drawn token. Positions below
    /// <see cref="SequenceKv.Length"/> are cached; the rest are fed by the next steps.
    /// </summary>
    public ReadOnlySpan<int> Feed => _feed.AsSpan(0, FeedLength);
    public int FeedLength { get; private set; }
    /// <summary>Tokens still to feed before the next draw (prompt not yet prefilled, or the last drawn token).</summary>
    public int Pending => FeedLength - Kv.Length;
    /// <summary>Still reading its prompt (or, after a preemption, re-reading prompt and drawn tokens).</summary>
    public bool Prefilling => Pending > 1 || (Generated == 0 && Pending > 0);

    public int CachedTokens { get; set; }
    public int Generated { get; set; }
    public int ReasoningTokens { get; set; }
    public bool InReasoning { get; set; }
    /// <summary>
    /// Set when the reasoning closes; cleared by the answer's first visible character. The template puts a blank line
    /// after &lt;/think&gt;, which is layout, not content: the DeepSeek API's <c>content</c> starts with the answer itself.
    /// </summary>
    public bool TrimContentStart { get; set; }
    public int MaxReasoning { get; }
    public int LastToken => _feed[FeedLength - 1];
    public int Drafted { get; set; }
    public int Accepted { get; set; }
    /// <summary>Drafts and acceptances since the last acceptance judgement.</summary>
    public int WindowDrafts { get; set; }
    public int WindowAccepted { get; set; }
    /// <summary>MTP draft for the position after <see cref="LastToken"/>, or −1.</summary>
    public int DraftToken { get; set; } = -1;
    /// <summary>Whether this sequence keeps its MTP cache and drafts (off once drafts stop paying, and for good).</summary>
    public bool Speculating { get; set; }
    public int Preemptions { get; set; }
    /// <summary>Preempted this step: its pages are gone and it waits to be readmitted.</summary>
    public bool Preempted { get; set; }
    /// <summary>Has rows in the step being planned (so it cannot be preempted any more this step).</summary>
    public bool InStep { get; set; }
    public long StartedAt { get; set; }
    public long FirstTokenAt { get; set; }
    public bool Done { get; set; }
    /// <summary>How the run ended (meaningful once <see cref="Done"/>).</summary>
    public FinishReason Outcome { get; set; }
    /// <summary>
    /// The totals, built when the run ends but handed to the caller only once its pages are indexed and given back, so
    /// a client that sends the next turn the moment it has the answer already hits that answer in the cache.
    /// </summary>
    public GenerationResult? Result { get; set; }
    /// <summary>Admission order, for fairness (older runs get pages and budget first).</summary>
    public long Order { get; set; }

    /// <summary>Appends a drawn token to the feed.</summary>
    public void Append(int token)
    {
        if (FeedLength == _feed.Length) Array.Resize(ref _feed, _feed.Length * 2);
        _feed[FeedLength++] = token;
    }

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
