using SharpSeek.Tensors;

namespace SharpSeek.Inference;

/// <summary>Capacity and scheduling settings of an <see cref="InferenceEngine"/>.</summary>
public sealed record EngineOptions
{
    /// <summary>Sequences generating at once (each owns a KV-cache session); the rest wait in the queue.</summary>
    public int MaxConcurrentSequences { get; init; } = 4;
    /// <summary>Requests that may wait for a slot; past this (plus the running ones) submissions are refused.</summary>
    public int MaxQueuedRequests { get; init; } = 16;
    /// <summary>Positions per sequence (prompt + output).</summary>
    public int MaxContext { get; init; } = 4096;
    /// <summary>Most prompt tokens one sequence feeds per step, so a long prompt shares steps with the others.</summary>
    public int PrefillChunkTokens { get; init; } = 256;
    /// <summary>
    /// Rows of one forward pass (the step's token budget): every running sequence's decode (and draft) tokens first,
    /// then prefill chunks of the oldest prefilling sequences. Must leave room for two rows per sequence.
    /// </summary>
    public int MaxBatchTokens { get; init; } = 512;
    /// <summary>
    /// Bytes of KV-cache pages (64 positions each). Null: enough for every sequence slot at the full context plus
    /// the context cache's memory. When pages run out the newest sequence is preempted and recomputed later.
    /// </summary>
    public long? KvMemoryBytes { get; init; }
    /// <summary>Element type of cached keys/values: F16 (default, llama.cpp's), BF16 or F32 (exact, twice the memory).</summary>
    public DType KvCacheType { get; init; } = DType.F16;
    /// <summary>
    /// Speculation stays on for a sequence while its MTP drafts are accepted at least this often (judged after
    /// <see cref="DraftProbe"/> drafts and over every later window of that many) and while 1 + acceptance beats the
    /// engine's measured cost of a speculating step; otherwise the sequence decodes plainly.
    /// </summary>
    public double MinDraftAcceptance { get; init; } = 0.4;
    /// <summary>Drafts per acceptance judgement (see <see cref="MinDraftAcceptance"/>).</summary>
    public int DraftProbe { get; init; } = 6;
    /// <summary>A request still queued after this long ends with <see cref="FinishReason.Expired"/>.</summary>
    public TimeSpan MaxQueueWait { get; init; } = TimeSpan.FromMinutes(10);
    /// <summary>Reasoning tokens after which the engine closes the reasoning block itself (DeepSeek-R1's CoT limit is 32K).</summary>
    public int DefaultMaxReasoningTokens { get; init; } = 32768;
    /// <summary>Draft with the model's MTP head and verify (self-speculative decoding) when the model has one.</summary>
    public bool SpeculativeDecoding { get; init; } = true;

    public void Validate()
    {
        if (MaxConcurrentSequences < 1) throw new ArgumentOutOfRangeException(nameof(MaxConcurrentSequences), MaxConcurrentSequences, "at least one sequence slot");
        if (MaxQueuedRequests < 0) throw new ArgumentOutOfRangeException(nameof(MaxQueuedRequests), MaxQueuedRequests, "queue length must not be negative");
        if (MaxContext < 2) throw new ArgumentOutOfRangeException(nameof(MaxContext), MaxContext, "context must hold at least two positions");
        if (PrefillChunkTokens < 1) throw new ArgumentOutOfRangeException(nameof(PrefillChunkTokens), PrefillChunkTokens, "prefill chunk must be positive");
        if (MaxBatchTokens < 2 * MaxConcurrentSequences)
            throw new ArgumentOutOfRangeException(nameof(MaxBatchTokens), MaxBatchTokens, $"a step must hold two rows per sequence ({2 * MaxConcurrentSequences} for {MaxConcurrentSequences} slots)");
        if (KvMemoryBytes is <= 0) throw new ArgumentOutOfRangeException(nameof(KvMemoryBytes), KvMemoryBytes, "KV memory must be positive");
        if (KvCacheType is not (DType.F16 or DType.BF16 or DType.F32))
            throw new ArgumentOutOfRangeException(nameof(KvCacheType), KvCacheType, "the KV cache stores F16, BF16 or F32");
        if (!(MinDraftAcceptance >= 0 && MinDraftAcceptance <= 1)) throw new ArgumentOutOfRangeException(nameof(MinDraftAcceptance), MinDraftAcceptance, "acceptance threshold must be in [0, 1]");
        if (DraftProbe < 1) throw new ArgumentOutOfRangeException(nameof(DraftProbe), DraftProbe, "the draft probe needs at least one draft");
        if (DefaultMaxReasoningTokens < 1) throw new ArgumentOutOfRangeException(nameof(DefaultMaxReasoningTokens), DefaultMaxReasoningTokens, "reasoning budget must be positive");
    }
}
