using System.Numerics;
using System.Numerics.Tensors;
using SharpSeek.Training.Autodiff;

namespace SharpSeek.Training.Ops;

/// <summary>MLA's per-head widths: dn (no-RoPE query/key part), dr (RoPE part, key shared by all heads), dv (value).</summary>
public readonly record struct MlaHeads(int Heads, int NopeDim, int RopeDim, int ValueDim)
{
    public int QkDim => NopeDim + RopeDim;
    /// <summary>Columns of the expanded latent kv_b_proj(c): per head dn key columns then dv value columns (HF order).</summary>
    public int KvWidth => Heads * (NopeDim + ValueDim);
}

/// <summary>
/// The attention core of Multi-head Latent Attention in its training ("naive") form, fused into one op:
/// <code>
///   K[h] = [ k_nope[h] | k_pe ]    (k_nope from kv_b_proj's output, k_pe shared by every head)
///   O[h] = softmax(scale · Q[h] K[h]ᵀ + causal mask) · V[h]
/// </code>
/// for every packed sequence and head, on already-rotated q and k_pe. It works flash-attention style: blocks of 64
/// query rows against the keys they can see (the causal upper triangle of blocks is skipped), each product a GEMM,
/// and only the log-sum-exp of every row is kept; the backward pass recomputes the probabilities from it instead of
/// storing T×T matrices per head. The key gradient of the shared k_pe sums over heads in a fixed order.
/// </summary>
public static unsafe class MlaAttentionOp
{
    private const int QueryBlock = 64;

    public static Node<T> MlaAttention<T>(this Tape<T> tape, Node<T> q, Node<T> kv, Node<T> kPe, MlaHeads shape, int sequenceLength, double scale)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        int n = q.Rows, nh = shape.Heads, T_ = sequenceLength;
        if (n % T_ != 0) throw new ArgumentException($"attention: {n} rows are not whole sequences of {T_}");
        if (q.Cols != nh * shape.QkDim || kv.Cols != shape.KvWidth || kPe.Cols != shape.RopeDim || kv.Rows != n || kPe.Rows != n)
            throw new ArgumentException($"attention: q {q}, kv {kv}, k_pe {kPe} do not match {shape}");
        var o = tape.NewNode(n, nh * shape.ValueDim, tape.AnyRequiresGrad(q, kv, kPe));
        var job = new Job<T>(tape, q, kv, kPe, o, shape, T_, T.CreateTruncating(scale));
        job.Forward();
        if (o.RequiresGrad) tape.Record(new Step<T>(job), o);
        else job.Release();
        return o;
    }

    private sealed class Step<T>(Job<T> job) : TapeStep where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        public override void Backward()
        {
            job.Backward();
            job.Release();
        }
    }

    private sealed class Job<T> where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        private readonly Tape<T> _tape;
        private readonly Node<T> _q, _kv, _kPe, _o;
        private readonly int _nh, _dn, _dr, _dv, _qk, _seq, _batch, _ldq, _ldkv, _ldo;
        private readonly T _scale;
        private T* _lse, _dq, _dkv, _do;

        public Job(Tape<T> tape, Node<T> q, Node<T> kv, Node<T> kPe, Node<T> o, MlaHeads s, int seq, T scale)
        {
            _tape = tape; _q = q; _kv = kv; _kPe = kPe; _o = o;
            _nh = s.Heads; _dn = s.NopeDim; _dr = s.RopeDim; _dv = s.ValueDim; _qk = s.QkDim;
            _seq = seq; _batch = q.Rows / seq; _scale = scale;
            _ldq = _nh * _qk; _ldkv = s.KvWidth; _ldo = _nh * _dv;
            _lse = tape.Rent((long)_batch * _nh * _seq);
        }

        public void Release()
        {
            if (_lse != null) _tape.Return(_lse);
            _lse = null;
        }

        /// <summary>K[i] = [kv[row i, head h's dn key columns] | k_pe[row i]] for one sequence.</summary>
        private void AssembleKeys(int b, int h, T* keys)
        {
            T* kv = _kv.Value, kpe = _kPe.Value;
            for (int i = 0; i < _seq; i++)
            {
                long row = (long)b * _seq + i;
                new ReadOnlySpan<T>(kv + row * _ldkv + h * (_dn + _dv), _dn).CopyTo(new Span<T>(keys + (long)i * _qk, _dn));
                new ReadOnlySpan<T>(kpe + row * _dr, _dr).CopyTo(new Span<T>(keys + (long)i * _qk + _dn, _dr));
            }
        }

        public void Forward()
        {
            int workers = _tape.Pool.ThreadCount;
            long keyFloats = (long)_seq * _qk, scoreFloats = (long)QueryBlock * _seq;
            T* keys = _tape.Rent(workers * keyFloats);
            T* scores = _tape.Rent(workers * scoreFloats);
            ParallelRange.For(_tape.Pool, _batch * _nh, 1, (start, end, worker) =>
            {
                T* k = keys + worker * keyFloats, s = scores + worker * scoreFloats;
                for (int task = start; task < end; task++) ForwardHead(task / _nh, task % _nh, k, s);
            });
            _tape.Return(scores);
            _tape.Return(keys);
        }

        private void ForwardHead(int b, int h, T* keys, T* s)
        {
            AssembleKeys(b, h, keys);
            T* q = _q.Value + (long)b * _seq * _ldq + h * _qk;
            T* v = _kv.Value + (long)b * _seq * _ldkv + h * (_dn + _dv) + _dn;
            T* o = _o.Value + (long)b * _seq * _ldo + h * _dv;
            T* lse = _lse + ((long)b * _nh + h) * _seq;
            var pool = _tape.Pool;
            for (int r0 = 0; r0 < _seq; r0 += QueryBlock)
            {
                int rows = Math.Min(QueryBlock, _seq - r0), r1 = r0 + rows;
                // Scores of this query block against the keys it may see: [rows, r1].
                MatMul.Multiply(false, true, rows, r1, _qk, _scale, q + (long)r0 * _ldq, _ldq, keys, _qk, T.Zero, s, r1, pool);
                for (int i = 0; i < rows; i++)
                {
                    int visible = r0 + i + 1;
                    var row = new Span<T>(s + (long)i * r1, visible);
                    T max = TensorPrimitives.Max<T>(row);
                    TensorPrimitives.Subtract(row, max, row);
                    TensorPrimitives.Exp<T>(row, row);
                    T sum = TensorPrimitives.Sum<T>(row);
                    TensorPrimitives.Multiply(row, T.One / sum, row);
                    new Span<T>(s + (long)i * r1 + visible, r1 - visible).Clear();
                    lse[r0 + i] = max + T.Log(sum);
                }
                MatMul.Multiply(false, false, rows, _dv, r1, T.One, s, r1, v, _ldkv, T.Zero, o + (long)r0 * _ldo, _ldo, pool);
            }
        }

        public void Backward()
        {
            // Gradient buffers are rented lazily from the (single-threaded) arena: touch them before going parallel.
            _dq = _q.RequiresGrad ? _q.Grad : null;
            _dkv = _kv.RequiresGrad ? _kv.Grad : null;
            _do = _o.Grad;
            int workers = _tape.Pool.ThreadCount;
            long keyFloats = (long)_seq * _qk, valueFloats = (long)_seq * _dv, scoreFloats = (long)QueryBlock * _seq;
            long perWorker = 2 * keyFloats + valueFloats + 2 * scoreFloats;
            T* scratch = _tape.Rent(workers * perWorker);
            // Each (sequence, head) writes its own k_pe gradient; the heads are summed afterwards in order.
            T* kpePartial = _kPe.RequiresGrad ? _tape.Rent((long)_batch * _nh * _seq * _dr) : null;
            ParallelRange.For(_tape.Pool, _batch * _nh, 1, (start, end, worker) =>
            {
                T* w = scratch + worker * perWorker;
                for (int task = start; task < end; task++)
                    BackwardHead(task / _nh, task % _nh, w, w + keyFloats, w + 2 * keyFloats, w + 2 * keyFloats + valueFloats,
                        w + 2 * keyFloats + valueFloats + scoreFloats, kpePartial);
            });
            if (kpePartial != null)
            {
                T* dkpe = _kPe.Grad;
                ParallelRange.For(_tape.Pool, _batch * _seq, 64, (s, e) =>
                {
                    for (int row = s; row < e; row++)
                    {
                        int b = row / _seq, i = row % _seq;
                        var dst = new Span<T>(dkpe + (long)row * _dr, _dr);
                        for (int h = 0; h < _nh; h++)
                            TensorPrimitives.Add(dst, new ReadOnlySpan<T>(kpePartial + (((long)b * _nh + h) * _seq + i) * _dr, _dr), dst);
                    }
                });
                _tape.Return(kpePartial);
            }
            _tape.Return(scratch);
        }

        private void BackwardHead(int b, int h, T* keys, T* dKeys, T* dValues, T* p, T* dp, T* kpePartial)
        {
            AssembleKeys(b, h, keys);
            new Span<T>(dKeys, _seq * _qk).Clear();
            new Span<T>(dValues, _seq * _dv).Clear();
            long qOff = (long)b * _seq * _ldq + h * _qk, kvOff = (long)b * _seq * _ldkv + h * (_dn + _dv), oOff = (long)b * _seq * _ldo + h * _dv;
            T* q = _q.Value + qOff;
            T* dq = _dq != null ? _dq + qOff : null;
            T* v = _kv.Value + kvOff + _dn;
            T* dO = _do + oOff;
            T* lse = _lse + ((long)b * _nh + h) * _seq;
            var pool = _tape.Pool;
            for (int r0 = 0; r0 < _seq; r0 += QueryBlock)
            {
                int rows = Math.Min(QueryBlock, _seq - r0), r1 = r0 + rows;
                MatMul.Multiply(false, true, rows, r1, _qk, _scale, q + (long)r0 * _ldq, _ldq, keys, _qk, T.Zero, p, r1, pool);
                for (int i = 0; i < rows; i++)
                {
                    int visible = r0 + i + 1;
                    var row = new Span<T>(p + (long)i * r1, visible);
                    TensorPrimitives.Subtract(row, lse[r0 + i], row);
                    TensorPrimitives.Exp<T>(row, row);
                    new Span<T>(p + (long)i * r1 + visible, r1 - visible).Clear();
                }
                // dP = dO·Vᵀ, then dS = P ⊙ (dP − rowsum(P ⊙ dP)).
                MatMul.Multiply(false, true, rows, r1, _dv, T.One, dO + (long)r0 * _ldo, _ldo, v, _ldkv, T.Zero, dp, r1, pool);
                for (int i = 0; i < rows; i++)
                {
                    var pr = new ReadOnlySpan<T>(p + (long)i * r1, r1);
                    var dpr = new Span<T>(dp + (long)i * r1, r1);
                    T d = TensorPrimitives.Dot(pr, dpr);
                    TensorPrimitives.Subtract(dpr, d, dpr);
                    TensorPrimitives.Multiply(dpr, pr, dpr);
                }
                // dV[0:r1] += Pᵀ·dO, dQ += scale·dS·K, dK[0:r1] += scale·dSᵀ·Q.
                MatMul.Multiply(true, false, r1, _dv, rows, T.One, p, r1, dO + (long)r0 * _ldo, _ldo, T.One, dValues, _dv, pool);
                if (dq != null)
                    MatMul.Multiply(false, false, rows, _qk, r1, _scale, dp, r1, keys, _qk, T.One, dq + (long)r0 * _ldq, _ldq, pool);
                MatMul.Multiply(true, false, r1, _qk, rows, _scale, dp, r1, q + (long)r0 * _ldq, _ldq, T.One, dKeys, _qk, pool);
            }
            if (_dkv != null)
            {
                T* dkv = _dkv + kvOff;
                for (int i = 0; i < _seq; i++)
                {
                    var dk = new Span<T>(dkv + (long)i * _ldkv, _dn);
                    TensorPrimitives.Add(dk, new ReadOnlySpan<T>(dKeys + (long)i * _qk, _dn), dk);
                    var dvv = new Span<T>(dkv + (long)i * _ldkv + _dn, _dv);
                    TensorPrimitives.Add(dvv, new ReadOnlySpan<T>(dValues + (long)i * _dv, _dv), dvv);
                }
            }
            if (kpePartial != null)
            {
                T* dst = kpePartial + ((long)b * _nh + h) * _seq * _dr;
                for (int i = 0; i < _seq; i++)
                    new ReadOnlySpan<T>(dKeys + (long)i * _qk + _dn, _dr).CopyTo(new Span<T>(dst + (long)i * _dr, _dr));
            }
        }
    }
}
