using System.Numerics;
using SharpSeek.Training.Autodiff;
using SharpSeek.Training.Ops;

namespace SharpSeek.Training.ScaleOut;

/// <summary>
/// One MoE layer's all-to-all under expert parallelism. The rows of a rank, sorted by expert (<see cref="RoutingPlan"/>),
/// are already grouped by owning rank because ownership is contiguous, so rank q's part is one slice. What arrives is
/// grouped by source rank; the owner's grouped GEMMs want it grouped by expert, so <see cref="Local"/> and
/// <see cref="LocalOrder"/> describe that permutation. The same counts, swapped, carry outputs back and gradients both ways.
/// </summary>
public sealed class ExpertExchange
{
    private ExpertExchange(int[] sendRows, int[] receiveRows, int[] localOrder, RoutingPlan local)
    {
        SendRows = sendRows;
        ReceiveRows = receiveRows;
        LocalOrder = localOrder;
        Local = local;
    }

    /// <summary>Rows this rank sends to each rank.</summary>
    public int[] SendRows { get; }
    /// <summary>Rows this rank receives from each rank.</summary>
    public int[] ReceiveRows { get; }
    /// <summary>[row in expert order] → row in arrival order.</summary>
    public int[] LocalOrder { get; }
    /// <summary>The owned experts' rows as a plan of their own (experts numbered from 0).</summary>
    public RoutingPlan Local { get; }

    /// <summary>Exchanges how many rows each rank sends to each of the owner's experts, and derives the layout.</summary>
    public static ExpertExchange Build(ExpertParallelism ep, RoutingPlan plan)
    {
        int ranks = ep.World.Size, per = ep.PerRank;
        var counts = new int[ep.Experts];
        for (int e = 0; e < ep.Experts; e++) counts[e] = plan.CountOf(e);
        var received = new int[ranks * per]; // [source, local expert]
        var fixedCounts = Enumerable.Repeat(per, ranks).ToArray();
        long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
        ep.World.AllToAllV(counts, fixedCounts, received, fixedCounts);
        ep.CountExchange(t0);

        var sendRows = new int[ranks];
        for (int e = 0; e < ep.Experts; e++) sendRows[ep.OwnerOf(e)] += counts[e];
        var receiveRows = new int[ranks];
        var sourceStart = new int[ranks + 1];
        for (int s = 0; s < ranks; s++)
        {
            for (int j = 0; j < per; j++) receiveRows[s] += received[s * per + j];
            sourceStart[s + 1] = sourceStart[s] + receiveRows[s];
        }
        int total = sourceStart[ranks];
        var local = new RoutingPlan(total, 1, per);
        var order = new int[total];
        int at = 0;
        var within = new int[ranks]; // next row of each source's block
        for (int j = 0; j < per; j++)
        {
            local.Offsets[j] = at;
            for (int s = 0; s < ranks; s++)
            {
                int n = received[s * per + j];
                for (int i = 0; i < n; i++) order[at++] = sourceStart[s] + within[s] + i;
                within[s] += n;
            }
        }
        local.Offsets[per] = at;
        return new ExpertExchange(sendRows, receiveRows, order, local);
    }
}

/// <summary>
/// The two exchanges as tape ops (f32 only: the communicator moves floats). Moving rows to the owners and moving a
/// gradient of owner outputs back are the same motion (<see cref="ToOwners"/>), as are moving outputs back and moving a
/// gradient of owner inputs back (<see cref="ToSources"/>).
/// </summary>
public static unsafe class ExpertExchangeOps
{
    /// <summary>Rows sorted by expert → the rows of the experts this rank owns, from every rank, in expert order.</summary>
    public static Node<T> ExchangeToOwners<T>(this Tape<T> tape, Node<T> sorted, ExpertParallelism ep, ExpertExchange exchange)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        RequireFloat<T>();
        var y = tape.NewNode(exchange.Local.Assignments, sorted.Cols, tape.AnyRequiresGrad(sorted));
        ToOwners(ep, exchange, Floats(sorted.Value, sorted.Length), Floats(y.Value, y.Length), sorted.Cols);
        if (y.RequiresGrad) tape.Record(new Step<T>(sorted, y, ep, exchange, towardOwners: true), y);
        return y;
    }

    /// <summary>The owner's outputs in expert order → back to the ranks the rows came from, in their sorted order.</summary>
    public static Node<T> ExchangeFromOwners<T>(this Tape<T> tape, Node<T> outputs, int rows, ExpertParallelism ep, ExpertExchange exchange)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        RequireFloat<T>();
        var y = tape.NewNode(rows, outputs.Cols, tape.AnyRequiresGrad(outputs));
        ToSources(ep, exchange, Floats(outputs.Value, outputs.Length), Floats(y.Value, y.Length), outputs.Cols);
        if (y.RequiresGrad) tape.Record(new Step<T>(outputs, y, ep, exchange, towardOwners: false), y);
        return y;
    }

    /// <summary>Backward of either exchange: the output's gradient makes the opposite trip and adds into the input's.</summary>
    private sealed class Step<T>(Node<T> input, Node<T> y, ExpertParallelism ep, ExpertExchange exchange, bool towardOwners) : TapeStep
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        public override bool Collective => true;

        public override void Backward()
        {
            var back = new float[input.Length];
            if (towardOwners) ToSources(ep, exchange, Floats(y.Grad, y.Length), back, input.Cols);
            else ToOwners(ep, exchange, Floats(y.Grad, y.Length), back, input.Cols);
            if (!input.RequiresGrad) return;
            var grad = Floats(input.Grad, input.Length);
            System.Numerics.Tensors.TensorPrimitives.Add(grad, back, grad);
        }
    }

    /// <summary>Source-sorted rows → all-to-all → the owner's rows in expert order.</summary>
    private static void ToOwners(ExpertParallelism ep, ExpertExchange exchange, ReadOnlySpan<float> sorted, Span<float> local, int h)
    {
        var arrived = new float[local.Length];
        long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
        ep.World.AllToAllV(sorted, Scaled(exchange.SendRows, h), arrived, Scaled(exchange.ReceiveRows, h));
        ep.CountExchange(t0);
        var order = exchange.LocalOrder;
        for (int k = 0; k < order.Length; k++) arrived.AsSpan(order[k] * h, h).CopyTo(local.Slice(k * h, h));
    }

    /// <summary>The owner's rows in expert order → arrival order → all-to-all → each source's sorted rows.</summary>
    private static void ToSources(ExpertParallelism ep, ExpertExchange exchange, ReadOnlySpan<float> local, Span<float> sorted, int h)
    {
        var arrival = new float[local.Length];
        var order = exchange.LocalOrder;
        for (int k = 0; k < order.Length; k++) local.Slice(k * h, h).CopyTo(arrival.AsSpan(order[k] * h, h));
        long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
        ep.World.AllToAllV(arrival, Scaled(exchange.ReceiveRows, h), sorted, Scaled(exchange.SendRows, h));
        ep.CountExchange(t0);
    }

    private static int[] Scaled(int[] rows, int h) => rows.Select(r => checked(r * h)).ToArray();

    private static Span<float> Floats<T>(T* p, long length) where T : unmanaged => new(p, checked((int)length));

    private static void RequireFloat<T>()
    {
        if (typeof(T) != typeof(float)) throw new NotSupportedException("expert parallelism exchanges f32 activations only");
    }
}
