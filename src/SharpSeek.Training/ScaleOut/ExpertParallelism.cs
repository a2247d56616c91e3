using System.Runtime.InteropServices;
using SharpSeek.Distributed;
using SharpSeek.Model;
using SharpSeek.Training.Autodiff;
using SharpSeek.Training.Optimization;

namespace SharpSeek.Training.ScaleOut;

/// <summary>
/// Expert parallelism over the whole job: rank r owns routed experts [r·E/N, (r+1)·E/N) of every MoE layer (MTP's
/// included) and is the only one to run, differentiate and update them. After routing, each rank's rows travel to the
/// ranks owning their experts and the outputs come back (<see cref="ExpertExchange"/>); attention, dense layers, shared
/// experts, norms and the router stay data parallel.
/// </summary>
/// <remarks>
/// Every rank still holds a full copy of the parameters (and optimizer moments): only the owner's copy of an expert is
/// current between checkpoints, and <see cref="ShareExperts"/> brings every copy up to date before one is written. That
/// keeps checkpoints in the one-process layout (resume on any number of ranks) at the price of memory; dropping the
/// non-owned copies is what a model that outgrows one rank's memory needs next.
/// </remarks>
public sealed class ExpertParallelism
{
    private readonly HashSet<Parameter<float>> _owned = [];
    private readonly HashSet<Parameter<float>> _elsewhere = [];
    private readonly List<(Parameter<float> Parameter, int Owner)> _experts = [];
    private long _exchangeTicks;

    public ExpertParallelism(ICommunicator world, TrainableModel<float> model)
    {
        World = world;
        Experts = model.Config.NRoutedExperts;
        if (Experts == 0 || model.MoeLayers.Count == 0) throw new ArgumentException("expert parallelism needs a model with routed experts");
        if (Experts % world.Size != 0)
            throw new ArgumentException($"{Experts} routed experts do not split evenly over {world.Size} ranks; use a number of ranks that divides {Experts}");
        PerRank = Experts / world.Size;
        foreach (int layer in model.MoeLayers)
            for (int e = 0; e < Experts; e++)
                foreach (string name in (string[])[WeightNames.ExpertGate(layer, e), WeightNames.ExpertUp(layer, e), WeightNames.ExpertDown(layer, e)])
                {
                    var p = model[name];
                    _experts.Add((p, OwnerOf(e)));
                    (Owns(e) ? _owned : _elsewhere).Add(p);
                }
    }

    public ICommunicator World { get; }
    public int Experts { get; }
    /// <summary>Routed experts each rank owns, per layer.</summary>
    public int PerRank { get; }
    public int FirstOwned => World.Rank * PerRank;

    public int OwnerOf(int expert) => expert / PerRank;
    public bool Owns(int expert) => OwnerOf(expert) == World.Rank;
    /// <summary>Expert parameters this rank trains.</summary>
    public IReadOnlySet<Parameter<float>> Owned => _owned;
    /// <summary>Expert parameters other ranks train (this rank neither differentiates nor updates them).</summary>
    public IReadOnlySet<Parameter<float>> Elsewhere => _elsewhere;
    public bool IsExpert(Parameter<float> p) => _owned.Contains(p) || _elsewhere.Contains(p);

    /// <summary>
    /// Each expert's owner sends its weights and AdamW moments to every rank, so every copy is current (before a
    /// checkpoint is written; every rank calls this at the same point).
    /// </summary>
    public void ShareExperts(AdamW optimizer)
    {
        foreach (var (p, owner) in _experts)
        {
            World.Broadcast(MemoryMarshal.AsBytes(p.Values), owner);
            World.Broadcast(MemoryMarshal.AsBytes(optimizer.FirstMoment(p)), owner);
            World.Broadcast(MemoryMarshal.AsBytes(optimizer.SecondMoment(p)), owner);
        }
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
