using System.Numerics;

namespace SharpSeek.Training.Autodiff;

/// <summary>
/// One value on a <see cref="Tape{T}"/>: a row-major [Rows, Cols] matrix (a scalar is 1×1), and, when it takes part in
/// differentiation, its gradient of the same shape. Activations live in the tape's arena until the tape is reset;
/// a parameter's node points at the parameter's own value and gradient, so gradients accumulate across micro-batches.
/// </summary>
public sealed unsafe class Node<T> where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private readonly Tape<T> _tape;
    private T* _grad;

    internal Node(Tape<T> tape, int rows, int cols, T* value, T* persistentGrad, bool requiresGrad)
    {
        if (rows < 0 || cols < 0) throw new ArgumentException($"node shape [{rows}, {cols}] is negative");
        _tape = tape;
        Rows = rows;
        Cols = cols;
        Value = value;
        _grad = persistentGrad;
        IsPersistent = persistentGrad != null;
        RequiresGrad = requiresGrad;
    }

    public int Rows { get; }
    public int Cols { get; }
    public long Length => (long)Rows * Cols;
    public T* Value { get; }
    /// <summary>Whether gradients flow into this node (a parameter being trained, or anything computed from one).</summary>
    public bool RequiresGrad { get; }
    /// <summary>The gradient lives outside the tape (a parameter's gradient buffer).</summary>
    internal bool IsPersistent { get; }

    /// <summary>The gradient buffer, allocated zeroed on first use.</summary>
    public T* Grad
    {
        get
        {
            if (!RequiresGrad) throw new InvalidOperationException("this node does not take gradients");
            if (_grad == null) _grad = _tape.RentZeroed(Length);
            return _grad;
        }
    }

    /// <summary>Has anything written a gradient into this node yet?</summary>
    public bool HasGrad => _grad != null;

    public Span<T> Values => new(Value, checked((int)Length));
    public Span<T> Gradients => new(Grad, checked((int)Length));

    /// <summary>The value of a 1×1 node.</summary>
    public T Scalar => Length == 1 ? Value[0] : throw new InvalidOperationException($"node is [{Rows}, {Cols}], not a scalar");

    /// <summary>Hands a transient gradient back to the arena once its producer has used it.</summary>
    internal void ReleaseGrad()
    {
        if (IsPersistent || _grad == null) return;
        _tape.Return(_grad);
        _grad = null;
    }

    public override string ToString() => $"Node<{typeof(T).Name}>[{Rows}, {Cols}]";
}
