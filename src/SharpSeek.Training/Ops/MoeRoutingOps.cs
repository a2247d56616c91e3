using System.Numerics;
using System.Numerics.Tensors;
using SharpSeek.Model;
using SharpSeek.Training.Autodiff;

namespace SharpSeek.Training.Ops;

/// <summary>
/// Where each (token, choice) pair goes: the chosen expert, and its row in the expert-sorted order that the grouped
/// expert GEMMs run on (sorted by expert, then by token: a stable counting sort, so the order is deterministic).
/// </summary>
public sealed class RoutingPlan
{
    public RoutingPlan(int tokens, int topK, int experts)
    {
        Tokens = tokens; TopK = topK; Experts = experts;
        ExpertOf = new int[tokens * topK];
        SlotOf = new int[tokens * topK];
        TokenOfSlot = new int[tokens * topK];
        Offsets = new int[experts + 1];
    }

    public int Tokens { get; }
    public int TopK { get; }
    public int Experts { get; }
    /// <summary>[token·k + j] → expert.</summary>
    public int[] ExpertOf { get; }
    /// <summary>[token·k + j] → row in the sorted order.</summary>
    public int[] SlotOf { get; }
    /// <summary>Sorted row → token.</summary>
    public int[] TokenOfSlot { get; }
    /// <summary>Expert e owns sorted rows [Offsets[e], Offsets[e+1]).</summary>
    public int[] Offsets { get; }
    public int Assignments => Tokens * TopK;
    public int CountOf(int expert) => Offsets[expert + 1] - Offsets[expert];

    /// <summary>Fills <see cref="SlotOf"/>, <see cref="TokenOfSlot"/> and <see cref="Offsets"/> from <see cref="ExpertOf"/>.</summary>
    internal void Sort()
    {
        Array.Clear(Offsets);
        foreach (int e in ExpertOf) Offsets[e + 1]++;
        for (int e = 0; e < Experts; e++) Offsets[e + 1] += Offsets[e];
        var cursor = Offsets[..Experts];
        for (int a = 0; a < ExpertOf.Length; a++)
        {
            int slot = cursor[ExpertOf[a]]++;
            SlotOf[a] = slot;
            TokenOfSlot[slot] = a / TopK;
        }
    }
}

/// <summary>
/// DeepSeekMoE routing as differentiable ops: scores from router logits, the top-k choice (with V3's selection bias and
/// group limit) producing combine weights, and the sequence-wise balance loss.
/// </summary>
public static unsafe class MoeRoutingOps
{
    /// <summary>s = sigmoid(logits) (V3) or softmax(logits) (V2), row-wise over the experts.</summary>
    public static Node<T> RouterScores<T>(this Tape<T> tape, Node<T> logits, ExpertScoring scoring) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        int e = logits.Cols;
        var s = tape.NewNode(logits.Rows, e, tape.AnyRequiresGrad(logits));
        T* lv = logits.Value, sv = s.Value;
        ParallelRange.For(tape.Pool, logits.Rows, 64, (a, b) =>
        {
            for (int t = a; t < b; t++)
            {
                var x = new ReadOnlySpan<T>(lv + (long)t * e, e);
                var y = new Span<T>(sv + (long)t * e, e);
                if (scoring == ExpertScoring.Sigmoid) TensorPrimitives.Sigmoid(x, y);
                else TensorPrimitives.SoftMax(x, y);
            }
        });
        if (s.RequiresGrad) tape.Record(new ScoresStep<T>(tape, logits, s, scoring), s);
        return s;
    }

    private sealed class ScoresStep<T>(Tape<T> tape, Node<T> logits, Node<T> s, ExpertScoring scoring) : TapeStep where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        public override void Backward()
        {
            int e = s.Cols;
            T* sv = s.Value, ds = s.Grad, dl = logits.Grad;
            ParallelRange.For(tape.Pool, s.Rows, 64, (a, b) =>
            {
                var t1 = ThreadScratch<T>.Get(0, e);
                for (int t = a; t < b; t++)
                {
                    var y = new ReadOnlySpan<T>(sv + (long)t * e, e);
                    var dy = new ReadOnlySpan<T>(ds + (long)t * e, e);
                    var dx = new Span<T>(dl + (long)t * e, e);
                    if (scoring == ExpertScoring.Sigmoid)
                    {
                        // dx += dy · s · (1 − s)
                        TensorPrimitives.Subtract(T.One, y, t1);
                        TensorPrimitives.Multiply(t1, y, t1);
                        TensorPrimitives.MultiplyAdd(dy, t1, dx, dx);
                    }
                    else
                    {
                        // dx += s ⊙ (dy − s·dy)
                        T dot = TensorPrimitives.Dot(y, dy);
                        TensorPrimitives.Subtract(dy, dot, t1);
                        TensorPrimitives.MultiplyAdd(t1, y, dx, dx);
                    }
                }
            });
        }
    }

    /// <summary>
    /// Picks <c>TopK</c> experts per token from <paramref name="scores"/> [tokens, experts] and returns their combine
    /// weights [tokens, TopK]. Selection ranks s + bias (the bias only steers the choice; noaux_tc) after the group limit;
    /// the weights use the unbiased s, normalized to sum 1 when configured, times routed_scaling_factor. The discrete
    /// choice has no gradient; the weights differentiate through s.
    /// </summary>
    public static Node<T> TopKRouting<T>(this Tape<T> tape, Node<T> scores, ReadOnlySpan<T> selectionBias, RouterSettings settings, out RoutingPlan plan)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        int n = scores.Rows, e = settings.Experts, k = settings.TopK;
        if (scores.Cols != e) throw new ArgumentException($"routing: scores have {scores.Cols} columns for {e} experts");
        bool biased = settings.UsesSelectionBias && !selectionBias.IsEmpty;
        if (biased && selectionBias.Length != e) throw new ArgumentException($"routing: {selectionBias.Length} bias values for {e} experts");
        var bias = biased ? selectionBias.ToArray() : null;
        var p = new RoutingPlan(n, k, e);
        var w = tape.NewNode(n, k, tape.AnyRequiresGrad(scores));
        T* sv = scores.Value, wv = w.Value;
        int[] expertOf = p.ExpertOf;
        ParallelRange.For(tape.Pool, n, 32, (a, b) =>
        {
            var choice = ThreadScratch<T>.Get(0, e);
            var groupScores = ThreadScratch<T>.Get(1, settings.Groups);
            Span<int> ids = stackalloc int[k];
            for (int t = a; t < b; t++)
            {
                var s = new ReadOnlySpan<T>(sv + (long)t * e, e);
                ExpertChoice.Select<T>(settings, s, bias, ids, choice, groupScores);
                ids.CopyTo(expertOf.AsSpan(t * k, k));
                ExpertChoice.Weights<T>(settings, s, ids, new Span<T>(wv + (long)t * k, k));
            }
        });
        p.Sort();
        plan = p;
        if (w.RequiresGrad) tape.Record(new TopKStep<T>(tape, scores, w, p, settings), w);
        return w;
    }

    private sealed class TopKStep<T>(Tape<T> tape, Node<T> scores, Node<T> w, RoutingPlan plan, RouterSettings settings) : TapeStep
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        public override void Backward()
        {
            int e = settings.Experts, k = settings.TopK;
            T* sv = scores.Value, dw = w.Grad, ds = scores.Grad;
            T eps = T.CreateTruncating(1e-20), alpha = T.CreateTruncating(settings.ScalingFactor);
            ParallelRange.For(tape.Pool, plan.Tokens, 64, (a, b) =>
            {
                for (int t = a; t < b; t++)
                {
                    T* s = sv + (long)t * e;
                    T* d = ds + (long)t * e;
                    if (!settings.NormalizeWeights)
                    {
                        for (int j = 0; j < k; j++) d[plan.ExpertOf[t * k + j]] += alpha * dw[(long)t * k + j];
                        continue;
                    }
                    // w_j = α s_j / (S + ε), S = Σ_i s_i over the chosen: ∂/∂s_i = α (δ_ij / (S+ε) − s_j / (S+ε)²).
                    T sum = T.Zero, dot = T.Zero;
                    for (int j = 0; j < k; j++)
                    {
                        T sj = s[plan.ExpertOf[t * k + j]];
                        sum += sj;
                        dot += dw[(long)t * k + j] * sj;
                    }
                    T denom = sum + eps;
                    for (int j = 0; j < k; j++)
                        d[plan.ExpertOf[t * k + j]] += alpha * (dw[(long)t * k + j] / denom - dot / (denom * denom));
                }
            });
        }
    }

    /// <summary>
    /// DeepSeek-V3's complementary sequence-wise balance loss, averaged over the packed sequences:
    /// L = α · mean_seq Σ_e f_e · P_e, with f_e = E/(K·T) · #tokens of the sequence routed to e (a constant) and
    /// P_e = mean over the sequence's tokens of s'_e = s_e / Σ_e' s_e'.
    /// </summary>
    public static Node<T> SequenceBalanceLoss<T>(this Tape<T> tape, Node<T> scores, RoutingPlan plan, int sequenceLength, double alpha)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        int n = scores.Rows, e = scores.Cols, k = plan.TopK, T_ = sequenceLength, batch = n / T_;
        if (n % T_ != 0) throw new ArgumentException($"balance loss: {n} tokens are not whole sequences of {T_}");
        var f = new T[batch * e];
        T fScale = T.CreateTruncating((double)e / ((double)k * T_));
        for (int a = 0; a < n * k; a++) f[a / k / T_ * e + plan.ExpertOf[a]] += fScale;
        T* sv = scores.Value;
        T loss = T.Zero, invT = T.One / T.CreateTruncating(T_);
        for (int b = 0; b < batch; b++)
        {
            var fb = f.AsSpan(b * e, e);
            for (int t = b * T_; t < (b + 1) * T_; t++)
            {
                var s = new ReadOnlySpan<T>(sv + (long)t * e, e);
                loss += TensorPrimitives.Dot<T>(fb, s) / TensorPrimitives.Sum(s) * invT;
            }
        }
        var y = tape.NewNode(1, 1, tape.AnyRequiresGrad(scores));
        y.Value[0] = T.CreateTruncating(alpha) * loss / T.CreateTruncating(batch);
        if (y.RequiresGrad) tape.Record(new BalanceStep<T>(scores, y, f, T_, T.CreateTruncating(alpha / batch) * invT), y);
        return y;
    }

    private sealed class BalanceStep<T>(Node<T> scores, Node<T> y, T[] f, int seq, T coefficient) : TapeStep where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        public override void Backward()
        {
            int n = scores.Rows, e = scores.Cols;
            T g = y.Grad[0] * coefficient;
            T* sv = scores.Value, ds = scores.Grad;
            for (int t = 0; t < n; t++)
            {
                var fb = f.AsSpan(t / seq * e, e);
                var s = new ReadOnlySpan<T>(sv + (long)t * e, e);
                T sum = TensorPrimitives.Sum(s);
                // L_t = g · (f·s)/S  →  ∂/∂s_e = g · (f_e − (f·s)/S) / S
                T mean = TensorPrimitives.Dot<T>(fb, s) / sum;
                for (int x = 0; x < e; x++) ds[(long)t * e + x] += g * (fb[x] - mean) / sum;
            }
        }
    }
}
