using SharpSeek.Inference.Tools;
using SharpSeek.Tensors.Kernels;
using SharpSeek.Tokenizer;
using SharpSeek.Tokenizer.Chat;

namespace SharpSeek.Inference;

/// <summary>
/// Per-sequence token choice from one row of logits: penalties, the rules that keep output well-formed (no
/// undecodable ids, no end inside the reasoning block, the reasoning budget, a JSON value when asked, the tool-call
/// grammar when the request has tools), then the
/// sequence's own sampler; and the log-probabilities a request may ask for. Stateless apart from the vocabulary facts,
/// so one chooser serves every sequence of an engine.
/// </summary>
internal sealed class TokenChooser
{
    private readonly ByteLevelBpeTokenizer? _tokenizer;
    private readonly int[] _undecodable = [];

    /// <param name="tokenizer">Null: token ids only (no end-of-sequence token is known, every id is allowed).</param>
    public TokenChooser(ByteLevelBpeTokenizer? tokenizer, int vocab)
    {
        _tokenizer = tokenizer;
        if (tokenizer is null)
        {
            EndOfSequence = ThinkEnd = -1;
            return;
        }
        EndOfSequence = tokenizer.EosTokenId ?? tokenizer.TokenToId(DeepSeekTokens.EndOfSentence) ?? -1;
        ThinkEnd = tokenizer.TokenToId(DeepSeekTokens.ThinkEnd) ?? -1;
        var undecodable = new List<int>();
        for (int id = 0; id < vocab; id++)
        {
            if (id >= tokenizer.VocabularySize) { undecodable.Add(id); continue; }
            try { _ = tokenizer.TokenBytes(id); }
            catch (ArgumentOutOfRangeException) { undecodable.Add(id); }
        }
        _undecodable = undecodable.ToArray();
    }

    public int EndOfSequence { get; }
    public int ThinkEnd { get; }

    /// <summary>Draws the next token of <paramref name="run"/> from <paramref name="raw"/> (one draw of its sampler's stream).</summary>
    public int Choose(SequenceRun run, ReadOnlySpan<float> raw)
    {
        var logits = run.Penalised(raw);
        if (run.Request.RawSampling)
        {
            int t = SampleSafely(run, logits);
            return t >= 0 ? t : Math.Max(EndOfSequence, 0);
        }
        foreach (int id in _undecodable) logits[id] = float.NegativeInfinity;
        // A reasoner's answer follows its reasoning: the sequence cannot end inside the reasoning block, nor before the
        // first token of the answer.
        bool mustContinue = run.Request.IgnoreEndOfSequence || run.InReasoning
            || (run.Request.StartsInReasoning && run.Content.Length == 0 && run.Generated == run.ReasoningTokens);
        if (mustContinue && EndOfSequence >= 0) logits[EndOfSequence] = float.NegativeInfinity;

        if (run.InReasoning && ThinkEnd >= 0 && run.ReasoningTokens >= run.MaxReasoning - 1) return ThinkEnd;
        if (!run.InReasoning && ThinkEnd >= 0) logits[ThinkEnd] = float.NegativeInfinity;

        int token;
        if (run.Tools is { } tools && !run.InReasoning) token = Constrained(run, logits, new ToolFilter(tools));
        else if (run.Json is { } json && !run.InReasoning)
        {
            if (json.IsComplete) return EndOfSequence >= 0 ? EndOfSequence : Selection.Argmax(logits);
            token = Constrained(run, logits, new JsonFilter(this, json));
        }
        else token = SampleSafely(run, logits);
        return token >= 0 ? token : (EndOfSequence >= 0 ? EndOfSequence : 0);
    }

    /// <summary>A grammar's verdict on one candidate token.</summary>
    private interface ITokenFilter
    {
        bool Allows(int token);
    }

    private readonly struct JsonFilter(TokenChooser chooser, JsonValueRecognizer json) : ITokenFilter
    {
        public bool Allows(int token) =>
            token != chooser.EndOfSequence && !chooser._tokenizer!.IsSpecial(token) && json.CanFeed(chooser._tokenizer.TokenBytes(token));
    }

    private readonly struct ToolFilter(ToolCallRecognizer tools) : ITokenFilter
    {
        public bool Allows(int token) => tools.CanFeed(token);
    }

    // Rejection sampling first (a grammar usually allows the model's own pick), then masking every refused token and
    // drawing from what is left: the draw is from the model's distribution restricted to the grammar either way.
    private static int Constrained<TFilter>(SequenceRun run, Span<float> logits, TFilter filter) where TFilter : struct, ITokenFilter
    {
        for (int attempt = 0; attempt < 16; attempt++)
        {
            int t = SampleSafely(run, logits);
            if (t < 0) break;
            if (filter.Allows(t)) return t;
            logits[t] = float.NegativeInfinity;
        }
        for (int id = 0; id < logits.Length; id++)
            if (!float.IsNegativeInfinity(logits[id]) && !filter.Allows(id)) logits[id] = float.NegativeInfinity;
        int pick = SampleSafely(run, logits);
        return pick >= 0 ? pick : -1;
    }

    private static int SampleSafely(SequenceRun run, Span<float> logits)
    {
        float max = float.NegativeInfinity;
        foreach (float v in logits) if (v > max) max = v;
        if (float.IsNegativeInfinity(max) || float.IsNaN(max)) return -1;
        return run.Sampler.Sample(logits);
    }

    /// <summary>Log-probability of <paramref name="token"/> and the <paramref name="top"/> most likely tokens, from the run's last choice.</summary>
    public (TokenLogprob Chosen, TokenLogprob[] Alternatives) Logprobs(SequenceRun run, int token, int top)
    {
        float[] logits = run.Logits;
        float max = float.NegativeInfinity;
        foreach (float v in logits) if (v > max) max = v;
        double sum = 0;
        foreach (float v in logits) if (!float.IsNegativeInfinity(v)) sum += Math.Exp(v - max);
        float logZ = max + (float)Math.Log(sum);
        TokenLogprob Of(int id)
        {
            byte[] bytes = _tokenizer is not null && id < _tokenizer.VocabularySize ? _tokenizer.TokenBytes(id).ToArray() : [];
            return new TokenLogprob(System.Text.Encoding.UTF8.GetString(bytes), logits[id] - logZ, bytes);
        }
        var alternatives = new TokenLogprob[Math.Min(top, logits.Length)];
        if (alternatives.Length > 0)
        {
            Span<int> idx = stackalloc int[alternatives.Length];
            Selection.TopK(logits, idx);
            for (int i = 0; i < idx.Length; i++) alternatives[i] = Of(idx[i]);
        }
        return (Of(token), alternatives);
    }
}
