using System.Diagnostics.CodeAnalysis;
using SharpSeek.Tensors;

namespace SharpSeek.Model;

/// <summary>
/// A model's tensors by name (see <see cref="WeightNames"/> for the scheme), of any dtype. A loader adds tensors (views
/// of a mapped file, or owned copies) and registers whatever must live as long as they do; disposing the container
/// disposes the tensors it owns and those resources.
/// </summary>
public sealed class ModelWeights : IDisposable
{
    private readonly Dictionary<string, Tensor> _tensors = new(StringComparer.Ordinal);
    private readonly List<IDisposable> _owned = [];

    public int Count => _tensors.Count;
    public IEnumerable<string> Names => _tensors.Keys;

    /// <summary>Adds <paramref name="tensor"/> under <paramref name="name"/>; with <paramref name="owned"/> the container disposes it.</summary>
    public void Add(string name, Tensor tensor, bool owned = true)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(tensor);
        if (!_tensors.TryAdd(name, tensor)) throw new ArgumentException($"weight '{name}' was already added");
        if (owned) _owned.Add(tensor);
    }

    /// <summary>Keeps <paramref name="resource"/> (a mapped file, a pool of buffers) alive until the container is disposed.</summary>
    public void KeepAlive(IDisposable resource) => _owned.Add(resource);

    public bool Contains(string name) => _tensors.ContainsKey(name);

    public bool TryGet(string name, [NotNullWhen(true)] out Tensor? tensor) => _tensors.TryGetValue(name, out tensor);

    public Tensor this[string name] => _tensors.TryGetValue(name, out var t)
        ? t
        : throw new KeyNotFoundException($"weight '{name}' is missing");

    /// <summary>The tensor under <paramref name="name"/>, checked to have exactly <paramref name="shape"/>.</summary>
    public Tensor Get(string name, params int[] shape)
    {
        var t = this[name];
        if (!t.Shape.AsSpan().SequenceEqual(shape))
            throw new ArgumentException($"weight '{name}' is [{string.Join(", ", t.Shape)}], expected [{string.Join(", ", shape)}]");
        return t;
    }

    public void Dispose()
    {
        foreach (var d in _owned) d.Dispose();
        _owned.Clear();
        _tensors.Clear();
    }
}
