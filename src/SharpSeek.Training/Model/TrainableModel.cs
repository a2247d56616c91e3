using SharpSeek.Tensors;
using System.Numerics;
using SharpSeek.Model;
using SharpSeek.Training.Autodiff;
using SharpSeek.Training.ScaleOut;
using SharpSeek.Training.Data;
using SharpSeek.Training.Ops;
using SharpSeek.Training.Precision;

namespace SharpSeek.Training;

/// <summary>The weights of the V3 objective's terms: L = L_main + (λ/D)·Σ_k L_MTP^k + Σ_layers α·L_balance.</summary>
public sealed record ObjectiveSettings(double MtpWeight = 0.3, double BalanceAlpha = 0.0001)
{
    /// <summary>Factors on the terms of one data-parallel rank's share of a batch (null: the batch is the rank's own, factors 1).</summary>
    public ObjectiveShares? Shares { get; init; }
}

/// <summary>
/// Data parallelism over a batch whose terms are means over unequal counts (masked targets, uneven rows): each term of
/// a rank's share is a mean over the share's own labelled positions (sequences, for the balance loss), so the mean of
/// the ranks' losses is not the batch's. Multiplied by N·(share's count)/(batch's count) and seeded with 1/N, the
/// ranks' contributions sum to the one-process term of the whole batch. <see cref="For"/> computes the factors.
/// </summary>
/// <param name="Main">Factor of the main head's cross-entropy.</param>
/// <param name="Mtp">Factor of each MTP depth's cross-entropy.</param>
/// <param name="Balance">Factor of the balance loss (a mean over sequences).</param>
public sealed record ObjectiveShares(double Main, IReadOnlyList<double> Mtp, double Balance)
{
    /// <summary>The factors of rows [<paramref name="first"/>, +<paramref name="count"/>) of <paramref name="batch"/> for one of <paramref name="ranks"/> ranks.</summary>
    public static ObjectiveShares For(TokenBatch batch, int first, int count, int ranks, int mtpDepth)
    {
        var share = batch.Slice(first, count);
        var mtp = new double[mtpDepth];
        for (int k = 1; k <= mtpDepth; k++) mtp[k - 1] = Factor(Labelled(share.MtpTargets(k)), Labelled(batch.MtpTargets(k)), ranks);
        return new ObjectiveShares(Factor(Labelled(share.MainTargets()), Labelled(batch.MainTargets()), ranks), mtp, Factor(count, batch.Sequences, ranks));
    }

    private static long Labelled(int[] targets)
    {
        long n = 0;
        foreach (int t in targets) if (t >= 0) n++;
        return n;
    }

    // A term the whole batch has nothing for is 0 on every rank; its factor does not matter.
    private static double Factor(long mine, long all, int ranks) => all == 0 ? 0 : (double)ranks * mine / all;
}

/// <summary>One forward pass of the objective: the differentiable total and its parts (for logging).</summary>
public sealed class ObjectiveResult<T> where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    public required Node<T> Loss { get; init; }
    public required double MainLoss { get; init; }
    /// <summary>Cross-entropy of each MTP depth (before the λ/D weight).</summary>
    public required double[] MtpLosses { get; init; }
    /// <summary>Sum over MoE layers of α·L_balance.</summary>
    public required double BalanceLoss { get; init; }
}

/// <summary>
/// The DeepSeek-V3 architecture (the inference form is SharpSeek.Model's DeepSeekModel) as trainable parameters plus its forward pass on a <see cref="Tape{T}"/>:
/// embedding → blocks (MLA, then dense SwiGLU or DeepSeekMoE) → final norm → head, and the MTP modules after it.
/// Parameters carry HF checkpoint names and shapes (<see cref="WeightNames"/>), so a checkpoint of them loads into
/// the inference engine unchanged. MLA runs in its training form (keys and values expanded per head by kv_b_proj);
/// the inference engine's absorbed form computes the same function.
/// </summary>
/// <remarks>
/// Generic over the element type: f32 for training, f64 for the gradient checks. The MTP module at depth k reads the
/// previous depth's output after its final norm (the main model's final-normed hidden state at depth 1), as the
/// released checkpoint is run by vLLM and by our inference engine.
/// </remarks>
public sealed class TrainableModel<T> : IDisposable where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private readonly List<Parameter<T>> _parameters = [];
    private readonly List<TensorSpec> _specs = [];
    private readonly Dictionary<string, Parameter<T>> _byName = new(StringComparer.Ordinal);
    private readonly Dictionary<int, long[]> _expertLoad = [];
    private RotaryTable<T>? _rotary;
    private readonly Func<int, int, bool>? _holdsExpert;

    /// <param name="holdsExpert">Under expert parallelism, which routed experts (layer, expert) this process allocates
    /// (its own); null allocates all.</param>
    public TrainableModel(ModelConfig config, Func<int, int, bool>? holdsExpert = null)
    {
        _holdsExpert = holdsExpert;
        config.Validate();
        if (config.Architecture != ModelArchitecture.DeepSeek)
            throw new NotSupportedException($"training supports the DeepSeek architecture (MLA + MoE), not {config.ModelType}");
        Config = config;
        Router = config.NRoutedExperts > 0 ? RouterSettings.From(config) : null;
        Heads = new MlaHeads(config.NumAttentionHeads, config.QkNopeHeadDim, config.QkRopeHeadDim, config.VHeadDim);
        foreach (var t in ModelSpec.For(config, CheckpointLayout.Training))
        {
            if (_holdsExpert is not null && WeightNames.IsRoutedExpert(t.Name, out int layer, out int expert) && !_holdsExpert(layer, expert)) continue;
            var p = new Parameter<T>(t.Name, t.Shape, RoleOf(t.Role));
            _parameters.Add(p);
            _specs.Add(t);
            _byName.Add(t.Name, p);
        }
        for (int l = 0; l < TotalLayers; l++)
            if (config.IsMoeLayer(l)) _expertLoad[l] = new long[config.NRoutedExperts];
    }

    // Embedding and norms are not decayed; the selection bias is set by bias balancing, not by the optimizer.
    private static ParameterRole RoleOf(TensorRole role) => role switch
    {
        TensorRole.Embedding or TensorRole.Norm or TensorRole.Bias => ParameterRole.NoDecay,
        TensorRole.RouterBias => ParameterRole.Buffer,
        _ => ParameterRole.Matrix,
    };

    public ModelConfig Config { get; }
    public RouterSettings? Router { get; }
    public MlaHeads Heads { get; }
    /// <summary>Main blocks plus MTP blocks.</summary>
    public int TotalLayers => Config.NumHiddenLayers + Config.NumNextnPredictLayers;
    public IReadOnlyList<Parameter<T>> Parameters => _parameters;
    /// <summary>Layer indices (MTP layers included) that use DeepSeekMoE.</summary>
    /// <summary>
    /// Set when the routed experts are spread over processes (f32 training only): the MoE layers then run this rank's
    /// experts on the rows every rank routes to them (<see cref="ExpertExchange"/>).
    /// </summary>
    public ExpertParallelism? ExpertParallel { get; set; }

    public IReadOnlyList<int> MoeLayers => _expertLoad.Keys.Order().ToArray();

    public Parameter<T> this[string name] => _byName.TryGetValue(name, out var p) ? p : throw new KeyNotFoundException($"no parameter '{name}'");
    public bool Contains(string name) => _byName.ContainsKey(name);

    /// <summary>Tokens routed to each expert of MoE layer <paramref name="layer"/> by training forward passes since the last <see cref="ResetExpertLoad"/>.</summary>
    public long[] ExpertLoad(int layer) => _expertLoad[layer];

    public void ResetExpertLoad()
    {
        foreach (var counts in _expertLoad.Values) Array.Clear(counts);
    }

    /// <summary>The aux-loss-free selection bias of MoE layer <paramref name="layer"/> (null unless noaux_tc routing).</summary>
    public Parameter<T>? SelectionBias(int layer)
        => _byName.TryGetValue(WeightNames.RouterBias(layer), out var p) ? p : null;

    public long ParameterCount => _parameters.Sum(p => p.Length);

    /// <summary>
    /// Seeded initialization by each tensor's <see cref="TensorSpec.Init"/> (the scales are listed on <see cref="ModelSpec"/>),
    /// independent of parameter order: each tensor draws from a generator seeded by its name.
    /// </summary>
    public void Initialize(ulong seed)
    {
        for (int i = 0; i < _parameters.Count; i++) _specs[i].Init.Fill(seed, _specs[i].SeedName, 0, _parameters[i].Values);
    }

    /// <summary>Copies every parameter's values from a model of the same config in another element type.</summary>
    public void CopyValuesFrom<TOther>(TrainableModel<TOther> other) where TOther : unmanaged, IBinaryFloatingPointIeee754<TOther>
    {
        foreach (var p in _parameters)
        {
            var src = other[p.Name].Values;
            var dst = p.Values;
            for (int i = 0; i < dst.Length; i++) dst[i] = T.CreateTruncating(src[i]);
        }
    }

    public void ZeroGradients()
    {
        foreach (var p in _parameters) p.ZeroGrad();
    }

    private RotaryTable<T> Rotary(int sequenceLength)
    {
        if (_rotary is null || _rotary.MaxPositions < sequenceLength) _rotary = new RotaryTable<T>(Config, sequenceLength);
        return _rotary;
    }

    /// <summary>The V3 training objective on one micro-batch, recorded on <paramref name="tape"/> when it takes gradients.</summary>
    public ObjectiveResult<T> Loss(Tape<T> tape, TokenBatch batch, ObjectiveSettings objective)
    {
        var pass = new ForwardPass(this, tape, batch, objective.BalanceAlpha);
        var hidden = pass.Run();
        var headPrecision = tape.Precision.OutputHead;
        var head = tape.Leaf(this[Config.TieWordEmbeddings ? WeightNames.Embedding : WeightNames.OutputHead]);
        var terms = new List<(Node<T>, double)>();
        var main = tape.LinearCrossEntropy(hidden[0], head, batch.MainTargets(), headPrecision);
        var shares = objective.Shares;
        terms.Add((main, shares?.Main ?? 1.0));
        int depth = Config.NumNextnPredictLayers;
        var mtp = new double[depth];
        for (int k = 1; k <= depth; k++)
        {
            var l = tape.LinearCrossEntropy(hidden[k], head, batch.MtpTargets(k), headPrecision);
            mtp[k - 1] = double.CreateTruncating(l.Scalar);
            terms.Add((l, shares is null ? objective.MtpWeight / depth : objective.MtpWeight / depth * shares.Mtp[k - 1]));
        }
        double balance = 0;
        foreach (var b in pass.BalanceTerms)
        {
            balance += double.CreateTruncating(b.Scalar);
            terms.Add((b, shares?.Balance ?? 1.0));
        }
        return new ObjectiveResult<T>
        {
            Loss = tape.WeightedSum(terms),
            MainLoss = double.CreateTruncating(main.Scalar),
            MtpLosses = mtp,
            BalanceLoss = balance,
        };
    }

    /// <summary>
    /// The main model's final-normed hidden states [Positions, hidden] on <paramref name="tape"/>, with gradients when
    /// the tape takes them; MTP depths are skipped. For objectives other than next-token cross-entropy (policy
    /// gradients), which pair these with the output head themselves.
    /// </summary>
    public Node<T> MainHidden(Tape<T> tape, TokenBatch batch) => new ForwardPass(this, tape, batch, 0) { MainOnly = true }.Run()[0];

    /// <summary>
    /// Logits of every position: the main head's [Positions, vocab] and each MTP depth's (position i of depth k reads
    /// token i+k, so it predicts token i+k+1). Evaluation only: nothing is recorded and the tape is left holding
    /// the activations until its next reset.
    /// </summary>
    public (T[] Main, T[][] Mtp) Logits(Tape<T> tape, TokenBatch batch)
    {
        bool was = tape.GradientsEnabled;
        tape.GradientsEnabled = false;
        try
        {
            var hidden = new ForwardPass(this, tape, batch, 0).Run();
            var headParam = this[Config.TieWordEmbeddings ? WeightNames.Embedding : WeightNames.OutputHead];
            var outputs = hidden.Select(hn => HeadLogits(tape, hn, headParam)).ToArray();
            return (outputs[0], outputs[1..]);
        }
        finally { tape.GradientsEnabled = was; }
    }

    private static unsafe T[] HeadLogits(Tape<T> tape, Node<T> hidden, Parameter<T> head)
    {
        var logits = new T[hidden.Rows * head.Rows];
        fixed (T* l = logits)
            PrecisionGemm.Forward(tape, tape.Precision.OutputHead, hidden.Value, hidden.Rows, hidden.Cols, head.Value, head.Rows, l, accumulate: false);
        return logits;
    }

    /// <summary>The graph of one micro-batch: blocks, final norms, and what each MoE layer routed.</summary>
    private sealed class ForwardPass(TrainableModel<T> model, Tape<T> tape, TokenBatch batch, double balanceAlpha)
    {
        private readonly ModelConfig _c = model.Config;
        private readonly int _seq = batch.SequenceLength;
        private readonly PrecisionPolicy _precision = tape.Precision;

        public List<Node<T>> BalanceTerms { get; } = [];
        /// <summary>Stop after the main model (no MTP depths).</summary>
        public bool MainOnly { get; init; }

        private Node<T> P(string name) => tape.Leaf(model[name]);

        /// <summary>Final-normed hidden states: the main model's, then each MTP depth's.</summary>
        public List<Node<T>> Run()
        {
            double eps = _c.RmsNormEps;
            var embedding = P(WeightNames.Embedding);
            var x = tape.Embedding(embedding, batch.Inputs());
            for (int l = 0; l < _c.NumHiddenLayers; l++) x = Block(x, l);
            var hidden = new List<Node<T>> { tape.RmsNorm(x, P(WeightNames.FinalNorm), eps) };
            for (int k = 1; k <= (MainOnly ? 0 : _c.NumNextnPredictLayers); k++)
            {
                int l = _c.NumHiddenLayers + k - 1;
                // eh_proj reads [enorm(embedding of token i+k) | hnorm(previous depth's hidden)], embedding first.
                var e = tape.RmsNorm(tape.Embedding(embedding, batch.MtpInputs(k)), P(WeightNames.MtpEmbeddingNorm(l)), eps);
                var prev = tape.RmsNorm(hidden[^1], P(WeightNames.MtpHiddenNorm(l)), eps);
                var m = tape.Linear(tape.ConcatColumns(e, prev), P(WeightNames.MtpProjection(l)), _precision.Linears);
                m = Block(m, l);
                hidden.Add(tape.RmsNorm(m, P(WeightNames.MtpHeadNorm(l)), eps));
            }
            return hidden;
        }

        private Node<T> Block(Node<T> x, int l)
        {
            double eps = _c.RmsNormEps;
            var attention = Attention(tape.RmsNorm(x, P(WeightNames.AttentionNorm(l)), eps), l);
            x = tape.Add(x, attention);
            var normed = tape.RmsNorm(x, P(WeightNames.FfnNorm(l)), eps);
            var ffn = _c.IsMoeLayer(l) ? Moe(normed, l) : SwiGlu(normed, WeightNames.DenseGate(l), WeightNames.DenseUp(l), WeightNames.DenseDown(l));
            return tape.Add(x, ffn);
        }

        private Node<T> Attention(Node<T> a, int l)
        {
            var heads = model.Heads;
            var linear = _precision.Linears;
            int r = _c.KvLoraRank;
            Node<T> q;
            if (_c.QLoraRank is not null)
            {
                var qa = tape.RmsNorm(tape.Linear(a, P(WeightNames.QAProj(l)), linear), P(WeightNames.QANorm(l)), _c.RmsNormEps);
                q = tape.Linear(qa, P(WeightNames.QBProj(l)), linear);
            }
            else q = tape.Linear(a, P(WeightNames.QProj(l)), linear);
            var rotary = model.Rotary(_seq);
            q = tape.Rope(q, rotary, _seq, heads.Heads, heads.QkDim, heads.NopeDim);

            // kv_a_proj_with_mqa's rows [0, r) make the latent c, rows [r, r + dr) the shared rotary key.
            var kvA = model[WeightNames.KvAProj(l)];
            var latent = tape.RmsNorm(tape.Linear(a, tape.Leaf(kvA, 0, r), linear), P(WeightNames.KvANorm(l)), _c.RmsNormEps);
            var kPe = tape.Rope(tape.Linear(a, tape.Leaf(kvA, r, heads.RopeDim), linear), rotary, _seq, 1, heads.RopeDim, 0);
            var kv = tape.Linear(latent, P(WeightNames.KvBProj(l)), linear);
            var o = tape.MlaAttention(q, kv, kPe, heads, _seq, _c.SoftmaxScale);
            return tape.Linear(o, P(WeightNames.OutputProjection(l)), linear);
        }

        private Node<T> SwiGlu(Node<T> x, string gate, string up, string down)
        {
            var linear = _precision.Linears;
            var g = tape.Linear(x, P(gate), linear);
            var u = tape.Linear(x, P(up), linear);
            return tape.Linear(tape.SwiGlu(g, u), P(down), linear);
        }

        private Node<T> Moe(Node<T> x, int l)
        {
            var settings = model.Router!;
            var logits = tape.Linear(x, P(WeightNames.Router(l)), _precision.Router);
            var scores = tape.RouterScores(logits, settings.Scoring);
            var bias = model.SelectionBias(l);
            var weights = tape.TopKRouting(scores, bias is null ? ReadOnlySpan<T>.Empty : bias.Values, settings, out var plan);
            if (tape.GradientsEnabled)
            {
                var load = model._expertLoad[l];
                for (int e = 0; e < settings.Experts; e++) load[e] += plan.CountOf(e);
            }
            if (balanceAlpha > 0) BalanceTerms.Add(tape.SequenceBalanceLoss(scores, plan, _seq, balanceAlpha));

            // Under expert parallelism this rank runs only the experts it owns, on every rank's rows routed to them.
            var ep = model.ExpertParallel;
            int first = ep?.FirstOwned ?? 0, experts = ep?.PerRank ?? settings.Experts;
            var gate = new Node<T>[experts];
            var up = new Node<T>[experts];
            var down = new Node<T>[experts];
            for (int j = 0; j < experts; j++)
            {
                gate[j] = P(WeightNames.ExpertGate(l, first + j));
                up[j] = P(WeightNames.ExpertUp(l, first + j));
                down[j] = P(WeightNames.ExpertDown(l, first + j));
            }
            var routed = tape.DispatchToExperts(x, plan);
            Node<T> outputs;
            if (ep is null) outputs = tape.GroupedExperts(routed, plan, gate, up, down, _precision.Linears);
            else
            {
                var exchange = ExpertExchange.Build(ep, plan);
                var mine = tape.ExchangeToOwners(routed, ep, exchange);
                var computed = tape.GroupedExperts(mine, exchange.Local, gate, up, down, _precision.Linears);
                outputs = tape.ExchangeFromOwners(computed, plan.Assignments, ep, exchange);
            }
            var y = tape.CombineFromExperts(outputs, weights, plan);
            if (_c.NSharedExperts > 0)
                y = tape.Add(y, SwiGlu(x, WeightNames.SharedGate(l), WeightNames.SharedUp(l), WeightNames.SharedDown(l)));
            return y;
        }
    }

    public void Dispose()
    {
        foreach (var p in _parameters) p.Dispose();
        _parameters.Clear();
        _byName.Clear();
    }
}
