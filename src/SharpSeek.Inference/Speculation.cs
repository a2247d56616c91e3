using SharpSeek.Model;
using SharpSeek.Tensors.Kernels;

namespace SharpSeek.Inference;

/// <summary>
/// MTP self-speculative decoding for every speculating sequence of a step at once. After the main pass, each such
/// sequence's new positions go through MTP depth 0 in one shared MTP pass (keeping the MTP cache level with the main
/// one, prompt positions included, so a cached prefix can speculate too); the last row's logits give the draft for the
/// token after the newest one. The next step feeds [newest token, draft] and keeps the draft when the main model draws
/// the same token from the first row (<see cref="StepKind.Verify"/>): outputs follow the main model exactly.
/// Per-sequence acceptance is judged every <see cref="EngineOptions.DraftProbe"/> drafts; a sequence whose drafts are
/// accepted less than <see cref="EngineOptions.MinDraftAcceptance"/> of the time stops speculating for good, so a head
/// that does not predict this text costs a few steps, not the whole generation.
/// </summary>
internal sealed class Speculation(LanguageModel model, EngineOptions options)
{
    private readonly ForwardBatch _batch = new(model, options.MaxBatchTokens);
    private readonly List<(SequenceRun Run, int Segment, bool Draft)> _rows = [];

    public void Begin()
    {
        _batch.Clear();
        _rows.Clear();
    }

    /// <summary>
    /// Queues the MTP rows of <paramref name="run"/>'s positions that the main pass just computed (segment
    /// <paramref name="segment"/> of <paramref name="main"/>) and whose next token is now known; asks for a draft when
    /// <paramref name="draft"/>.
    /// </summary>
    public void CatchUp(SequenceRun run, ForwardBatch main, int segment, int firstPosition, bool draft)
    {
        var kv = run.Kv;
        int mtp = kv.MtpLength(0);
        if (mtp != firstPosition) throw new InvalidOperationException($"MTP cache at {mtp} fell behind the main pass at {firstPosition}");
        int count = Math.Min(kv.Length, run.FeedLength - 1) - mtp;
        if (count <= 0) return;
        int h = model.Config.HiddenSize;
        var hidden = main.HiddenRows(segment)[..(count * h)];
        int seg = _batch.AddMtp(kv, hidden, run.Feed.Slice(mtp + 1, count), draft ? LogitsFor.LastPosition : LogitsFor.None);
        _rows.Add((run, seg, draft));
    }

    /// <summary>Runs the queued MTP rows and sets each asking sequence's draft (the MTP head's arg-max).</summary>
    public void Run()
    {
        if (_batch.SegmentCount == 0) return;
        _batch.Run();
        foreach (var (run, seg, draft) in _rows)
            if (draft) run.DraftToken = Selection.Argmax(_batch.Logits(seg));
    }

    /// <summary>Counts one verified draft and turns speculation off for a sequence whose drafts do not pay.</summary>
    public void Record(SequenceRun run, bool accepted)
    {
        run.Drafted++;
        if (accepted) run.Accepted++;
        run.WindowDrafts++;
        if (accepted) run.WindowAccepted++;
        if (run.WindowDrafts < options.DraftProbe) return;
        if (run.WindowAccepted < options.MinDraftAcceptance * run.WindowDrafts)
        {
            run.Speculating = false;
            run.DraftToken = -1;
        }
        run.WindowDrafts = run.WindowAccepted = 0;
    }
}
