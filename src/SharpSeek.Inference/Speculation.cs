using SharpSeek.Model;
using SharpSeek.Tensors.Kernels;

namespace SharpSeek.Inference;

/// <summary>
/// MTP self-speculative decoding for every speculating sequence of a step at once. After the main pass, each such
/// sequence's new positions go through MTP depth 0 in one shared MTP pass (keeping the MTP cache level with the main
/// one, prompt positions included, so a cached prefix can speculate too); the last row's logits give the draft for the
/// token after the newest one. The next step feeds [newest token, draft] and keeps the draft when the main model draws
/// the same token from the first row (<see cref="StepKind.Verify"/>): outputs follow the main model exactly.
/// </summary>
/// <remarks>
/// Whether speculation pays depends on the model and the load: on a large model a pass reads the weights once whatever
/// its rows, so a verify row and the small MTP pass are nearly free; on a tiny model held in cache they cost almost as
/// much as the main pass. So the engine measures it: for each decode batch size it keeps the time of a pass of plain
/// decode rows and of a speculating step (pairs plus the MTP pass), probing a plain step now and then to keep the first
/// figure fresh. Each sequence's acceptance a is judged every <see cref="EngineOptions.DraftProbe"/> drafts; it keeps
/// speculating only while 1 + a tokens per step beat the measured cost ratio by 10 % (and, before there is one, while a ≥
/// <see cref="EngineOptions.MinDraftAcceptance"/>). A sequence that stops, stops for good (its MTP cache falls
/// behind), so a head that does not predict this text costs a few steps, not the generation; and once the acceptance
/// seen across sequences does not pay for the measured cost, new sequences do not start speculating at all (one in
/// sixteen still does, to keep the figures current) — a model too small to gain decodes plainly.
/// </remarks>
internal sealed class Speculation(LanguageModel model, EngineOptions options)
{
    private const int Buckets = 33;          // decode batch sizes 1…32 (larger ones share the last)
    private const int ProbeEvery = 16;       // steps between plain probes at one batch size
    private const int FirstProbes = 8;       // probes in a row first: the earliest steps run cold (JIT, caches)
    private readonly ForwardBatch _batch = new(model, options.MaxBatchTokens);
    private readonly List<(SequenceRun Run, int Segment, bool Draft)> _rows = [];
    private readonly double[] _plainSeconds = new double[Buckets], _speculatingSeconds = new double[Buckets];
    private readonly long[] _plainAt = new long[Buckets];
    private readonly int[] _plainSamples = new int[Buckets];

    private double _acceptance = double.NaN; // over every sequence's recent windows
    private int _starts;

    private static int Bucket(int decoders) => Math.Clamp(decoders, 1, Buckets - 1);

    /// <summary>
    /// Whether a new sequence should speculate (and keep MTP rows for its prompt): yes until the figures say drafts do
    /// not pay at about this batch size; then one sequence in sixteen still tries, so the figures stay current.
    /// </summary>
    public bool WorthStarting(int decoders)
    {
        _starts++;
        double ratio = CostRatio(decoders);
        if (double.IsNaN(ratio) || double.IsNaN(_acceptance) || 1 + _acceptance >= 1.1 * ratio) return true;
        return _starts % 16 == 0;
    }

    /// <summary>Whether this step should decode plainly to measure what a step costs without speculation.</summary>
    public bool WantsPlainProbe(int decoders, long step)
    {
        int b = Bucket(decoders);
        return _plainSamples[b] < FirstProbes || step - _plainAt[b] >= ProbeEvery;
    }

    /// <summary>Records a step whose decoding sequences all fed one plain token (no prefill rows): its main pass time.</summary>
    public void ObservePlain(int decoders, double seconds, long step)
    {
        int b = Bucket(decoders);
        // The first samples replace each other (a cold first step would otherwise linger), later ones average.
        _plainSeconds[b] = _plainSamples[b] < FirstProbes ? seconds : 0.8 * _plainSeconds[b] + 0.2 * seconds;
        _plainSamples[b]++;
        _plainAt[b] = step;
    }

    /// <summary>Records a step whose decoding sequences all verified a draft (no prefill rows): main plus MTP pass time.</summary>
    public void ObserveSpeculating(int decoders, double seconds)
    {
        int b = Bucket(decoders);
        _speculatingSeconds[b] = _speculatingSeconds[b] == 0 ? seconds : 0.8 * _speculatingSeconds[b] + 0.2 * seconds;
    }

    /// <summary>Time of a speculating step over a plain one at this batch size, or NaN before both were measured.</summary>
    public double CostRatio(int decoders)
    {
        int b = Bucket(decoders);
        return _plainSamples[b] >= FirstProbes && _speculatingSeconds[b] > 0 ? _speculatingSeconds[b] / _plainSeconds[b] : double.NaN;
    }

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

    /// <summary>
    /// Counts one verified draft of a step with <paramref name="decoders"/> decoding sequences and, at the end of a
    /// window, turns speculation off for a sequence whose drafts do not pay at the measured cost.
    /// </summary>
    public void Record(SequenceRun run, bool accepted, int decoders)
    {
        run.Drafted++;
        if (accepted) run.Accepted++;
        run.WindowDrafts++;
        if (accepted) run.WindowAccepted++;
        if (run.WindowDrafts < options.DraftProbe) return;
        double acceptance = (double)run.WindowAccepted / run.WindowDrafts;
        _acceptance = double.IsNaN(_acceptance) ? acceptance : 0.9 * _acceptance + 0.1 * acceptance;
        double ratio = CostRatio(decoders);
        // A 10 % margin: a window of a few drafts is a noisy estimate, and a wrong "on" costs more than a wrong "off".
        bool pays = acceptance >= options.MinDraftAcceptance && (double.IsNaN(ratio) || 1 + acceptance >= 1.1 * ratio);
        if (!pays)
        {
            run.Speculating = false;
            run.DraftToken = -1;
        }
        run.WindowDrafts = run.WindowAccepted = 0;
    }
}
