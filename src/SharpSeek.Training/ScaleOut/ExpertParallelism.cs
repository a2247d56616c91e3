using System.Runtime.InteropServices;
using SharpSeek.Distributed;
using SharpSeek.Model;
using SharpSeek.Training.Autodiff;
using SharpSeek.Training.Optimization;

namespace SharpSeek.Training.ScaleOut;

/// <summary>
/// Expert parallelism over the whole job: rank r owns routed experts [r·E/N, (r+1)·E/N) of every MoE layer (MTP's
/// included) and is the only one to hold, run, differentiate and update them — a rank allocates only its own experts
/// (<see cref="TrainableModel{T}"/> is built with <see cref="Holds"/>). After routing, each rank's rows travel to the
/// ranks owning their experts and the outputs come back (<see cref="ExpertExchange"/>); attention, dense layers, shared
/// experts, norms and the router stay data parallel.
/// </summary>
/// <remarks>
/// Checkpoints keep the one-process layout, so a run resumes on any number of ranks: before one is written, every
/// expert's owner broadcasts its weights and AdamW moments and rank 0 stages the ones it does not hold
/// (<see cref="GatherExperts"/>) for as long as the write takes.
/// </remarks>
public sealed class ExpertParallelism
{
    private readonly HashSet<Parameter<float>> _owned = [];
    private readonly List<(string Name, int[] Shape, int Owner)> _experts = [];
    private long _exchangeTicks;

    public ExpertParallelism(ICommunicator world, ModelConfig config)
    {
        World = world;
        Experts = config.NRoutedExperts;
        int layers = config.NumHiddenLayers + config.NumNextnPredictLayers;
        var moeLayers = Enumerable.Range(0, layers).Where(config.IsMoeLayer).ToArray();
        if (Experts == 0 || moeLayers.Length == 0) throw new ArgumentException("expert parallelism needs a model with routed experts");
        if (Experts % world.Size != 0)
            throw new ArgumentException($"{Experts} routed experts do not split evenly over {world.Size} ranks; use a number of ranks that divides {Experts}");
        PerRank = Experts / world.Size;
        int h = config.HiddenSize, f = config.MoeIntermediateSize;
        foreach (int layer in moeLayers)
            for (int e = 0; e < Experts; e++)
            {
                _experts.Add((WeightNames.ExpertGate(layer, e), [f, h], OwnerOf(e)));
                _experts.Add((WeightNames.ExpertUp(layer, e), [f, h], OwnerOf(e)));
                _experts.Add((WeightNames.ExpertDown(layer, e), [h, f], OwnerOf(e)));
            }
    }

    public ICommunicator World { get; }
    public int Experts { get; }
    /// <summary>Routed experts each rank owns, per layer.</summary>
    public int PerRank { get; }
    public int FirstOwned => World.Rank * PerRank;

    public int OwnerOf(int expert) => expert / PerRank;
    public bool Owns(int expert) => OwnerOf(expert) == World.Rank;
    /// <summary>Whether this rank allocates routed expert <paramref name="expert"/> of <paramref name="layer"/> (its own only).</summary>
    public bool Holds(int layer, int expert) => Owns(expert);

    /// <summary>Expert parameters this rank trains (after <see cref="Bind"/>).</summary>
    public IReadOnlySet<Parameter<float>> Owned => _owned;
    public bool IsExpert(Parameter<float> p) => _owned.Contains(p);

    /// <summary>Finds this rank's experts in <paramref name="model"/> (built with <see cref="Holds"/>).</summary>
    public void Bind(TrainableModel<float> model)
    {
        _owned.Clear();
        foreach (var (name, _, owner) in _experts)
        {
            if (owner == World.Rank) _owned.Add(model[name]);
            else if (model.Contains(name)) throw new ArgumentException($"'{name}' belongs to rank {owner} but this rank's model holds it");
        }
    }

    /// <summary>
    /// Every expert's owner broadcasts its weights and AdamW moments; rank 0 keeps the ones it does not hold and returns
    /// them (the caller writes and disposes them), the other ranks return null. Every rank calls this at the same point.
    /// </summary>
    public StagedExperts? GatherExperts(TrainableModel<float> model, AdamW optimizer)
    {
        bool root = World.Rank == 0;
        var staged = root ? new StagedExperts() : null;
        float[] scratch = [];
        foreach (var (name, shape, owner) in _experts)
        {
            if (owner == World.Rank)
            {
                var p = model[name];
                World.Broadcast(MemoryMarshal.AsBytes(p.Values), owner);
                World.Broadcast(MemoryMarshal.AsBytes(optimizer.FirstMoment(p)), owner);
                World.Broadcast(MemoryMarshal.AsBytes(optimizer.SecondMoment(p)), owner);
                continue;
            }
            if (staged is not null)
            {
                var tensor = staged.Add(name, shape);
                World.Broadcast(MemoryMarshal.AsBytes(tensor.Value.Values), owner);
                World.Broadcast(MemoryMarshal.AsBytes(tensor.FirstMoment.Values), owner);
                World.Broadcast(MemoryMarshal.AsBytes(tensor.SecondMoment.Values), owner);
                continue;
            }
            int length = shape[0] * shape[1];
            if (scratch.Length < length) scratch = new float[length];
            for (int i = 0; i < 3; i++) World.Broadcast(MemoryMarshal.AsBytes(scratch.AsSpan(0, length)), owner);
        }
        return staged;
    }

    /// <summary>Adds time spent in the layers' exchanges (forward and backward).</summary>
    internal void CountExchange(long startTimestamp) => _exchangeTicks += System.Diagnostics.Stopwatch.GetTimestamp() - startTimestamp;

    /// <summary>Seconds spent exchanging rows since the last call.</summary>
    public double TakeExchangeSeconds()
    {
        double s = System.Diagnostics.Stopwatch.GetElapsedTime(0, _exchangeTicks).TotalSeconds;
        _exchangeTicks = 0;
        return s;
    }

    /// <summary>max/mean over ranks of the routed tokens each rank's experts received, worst layer (1 = even).</summary>
    public double RankImbalance(IEnumerable<long[]> layerLoads)
    {
        double worst = 0;
        var perRank = new long[World.Size];
        foreach (var load in layerLoads)
        {
            Array.Clear(perRank);
            for (int e = 0; e < load.Length; e++) perRank[OwnerOf(e)] += load[e];
            double mean = perRank.Average();
            if (mean > 0) worst = Math.Max(worst, perRank.Max() / mean);
        }
        return worst;
    }
}

/// <summary>Other ranks' experts, weights and AdamW moments, held by rank 0 while a checkpoint is written.</summary>
public sealed class StagedExperts : IDisposable
{
    private readonly List<StagedExpert> _tensors = [];

    public IReadOnlyList<StagedExpert> Tensors => _tensors;

    internal StagedExpert Add(string name, int[] shape)
    {
        var t = new StagedExpert(new Parameter<float>(name, shape, ParameterRole.Buffer),
            new Parameter<float>(name + ".exp_avg", shape, ParameterRole.Buffer), new Parameter<float>(name + ".exp_avg_sq", shape, ParameterRole.Buffer));
        _tensors.Add(t);
        return t;
    }

    public void Dispose()
    {
        foreach (var t in _tensors)
        {
            t.Value.Dispose();
            t.FirstMoment.Dispose();
            t.SecondMoment.Dispose();
        }
        _tensors.Clear();
    }
}

/// <summary>One staged expert matrix: its weights (named as in the model) and its two moments.</summary>
public sealed record StagedExpert(Parameter<float> Value, Parameter<float> FirstMoment, Parameter<float> SecondMoment);
