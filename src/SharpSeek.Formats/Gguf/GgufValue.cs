namespace SharpSeek.Formats.Gguf;

/// <summary>GGUF metadata value types, numbered as they are stored in the file.</summary>
public enum GgufValueType : uint
{
    UInt8 = 0,
    Int8 = 1,
    UInt16 = 2,
    Int16 = 3,
    UInt32 = 4,
    Int32 = 5,
    Float32 = 6,
    Bool = 7,
    String = 8,
    Array = 9,
    UInt64 = 10,
    Int64 = 11,
    Float64 = 12,
}

/// <summary>One typed GGUF metadata value: a scalar, a string, or a <see cref="GgufArray"/>.</summary>
/// <remarks>The GGUF type is kept exactly (a file's <c>UInt32</c> stays <c>UInt32</c>) so rewriting a file preserves it.</remarks>
public sealed class GgufValue : IEquatable<GgufValue>
{
    public GgufValueType Type { get; }

    /// <summary>The boxed value: byte, sbyte, ushort, short, uint, int, float, bool, string, ulong, long, double or <see cref="GgufArray"/>.</summary>
    public object Value { get; }

    private GgufValue(GgufValueType type, object value)
    {
        Type = type;
        Value = value;
    }

    public static GgufValue UInt8(byte v) => new(GgufValueType.UInt8, v);
    public static GgufValue Int8(sbyte v) => new(GgufValueType.Int8, v);
    public static GgufValue UInt16(ushort v) => new(GgufValueType.UInt16, v);
    public static GgufValue Int16(short v) => new(GgufValueType.Int16, v);
    public static GgufValue UInt32(uint v) => new(GgufValueType.UInt32, v);
    public static GgufValue Int32(int v) => new(GgufValueType.Int32, v);
    public static GgufValue Float32(float v) => new(GgufValueType.Float32, v);
    public static GgufValue Bool(bool v) => new(GgufValueType.Bool, v);
    public static GgufValue String(string v) => new(GgufValueType.String, v ?? throw new ArgumentNullException(nameof(v)));
    public static GgufValue UInt64(ulong v) => new(GgufValueType.UInt64, v);
    public static GgufValue Int64(long v) => new(GgufValueType.Int64, v);
    public static GgufValue Float64(double v) => new(GgufValueType.Float64, v);
    public static GgufValue Array(GgufArray v) => new(GgufValueType.Array, v ?? throw new ArgumentNullException(nameof(v)));

    public static implicit operator GgufValue(byte v) => UInt8(v);
    public static implicit operator GgufValue(sbyte v) => Int8(v);
    public static implicit operator GgufValue(ushort v) => UInt16(v);
    public static implicit operator GgufValue(short v) => Int16(v);
    public static implicit operator GgufValue(uint v) => UInt32(v);
    public static implicit operator GgufValue(int v) => Int32(v);
    public static implicit operator GgufValue(float v) => Float32(v);
    public static implicit operator GgufValue(bool v) => Bool(v);
    public static implicit operator GgufValue(string v) => String(v);
    public static implicit operator GgufValue(ulong v) => UInt64(v);
    public static implicit operator GgufValue(long v) => Int64(v);
    public static implicit operator GgufValue(double v) => Float64(v);
    public static implicit operator GgufValue(GgufArray v) => Array(v);

    /// <summary>The value as <typeparamref name="T"/>; throws <see cref="InvalidCastException"/> naming both types when it is stored as something else.</summary>
    public T As<T>() => Value is T t ? t : throw new InvalidCastException($"GGUF value is {Describe()}, not {typeof(T).Name}");

    /// <summary>Any integer type widened to long (a UInt64 above long.MaxValue does not fit and throws).</summary>
    public bool TryGetInteger(out long value)
    {
        switch (Value)
        {
            case byte v: value = v; return true;
            case sbyte v: value = v; return true;
            case ushort v: value = v; return true;
            case short v: value = v; return true;
            case uint v: value = v; return true;
            case int v: value = v; return true;
            case long v: value = v; return true;
            case ulong v when v <= long.MaxValue: value = (long)v; return true;
            default: value = 0; return false;
        }
    }

    /// <summary>Any numeric type (integer or float) widened to double.</summary>
    public bool TryGetNumber(out double value)
    {
        switch (Value)
        {
            case float v: value = v; return true;
            case double v: value = v; return true;
            case ulong v: value = v; return true;
            default:
                bool ok = TryGetInteger(out long l);
                value = l;
                return ok;
        }
    }

    /// <summary>"UInt32", or "Array of String" for arrays.</summary>
    public string Describe() => Value is GgufArray a ? $"Array of {a.ElementType} ({a.Count} elements)" : Type.ToString();

    public bool Equals(GgufValue? other)
    {
        if (other is null || other.Type != Type) return false;
        return Value is GgufArray a ? a.Equals(other.Value as GgufArray) : Value.Equals(other.Value);
    }

    public override bool Equals(object? obj) => Equals(obj as GgufValue);
    public override int GetHashCode() => HashCode.Combine(Type, Value);
    public override string ToString() => Value is string s ? $"\"{s}\"" : Value.ToString() ?? "";
}

/// <summary>A GGUF array: all elements share <see cref="ElementType"/>; elements of an array of arrays are themselves <see cref="GgufArray"/>s.</summary>
public sealed class GgufArray : IEquatable<GgufArray>
{
    public GgufValueType ElementType { get; }

    /// <summary>The elements as a typed array: byte[], sbyte[], ushort[], short[], uint[], int[], float[], bool[], string[], GgufArray[], ulong[], long[] or double[].</summary>
    public Array Items { get; }

    public int Count => Items.Length;

    private GgufArray(GgufValueType elementType, Array items)
    {
        ElementType = elementType;
        Items = items;
    }

    public static GgufArray Of(byte[] items) => new(GgufValueType.UInt8, Checked(items));
    public static GgufArray Of(sbyte[] items) => new(GgufValueType.Int8, Checked(items));
    public static GgufArray Of(ushort[] items) => new(GgufValueType.UInt16, Checked(items));
    public static GgufArray Of(short[] items) => new(GgufValueType.Int16, Checked(items));
    public static GgufArray Of(uint[] items) => new(GgufValueType.UInt32, Checked(items));
    public static GgufArray Of(int[] items) => new(GgufValueType.Int32, Checked(items));
    public static GgufArray Of(float[] items) => new(GgufValueType.Float32, Checked(items));
    public static GgufArray Of(bool[] items) => new(GgufValueType.Bool, Checked(items));
    public static GgufArray Of(ulong[] items) => new(GgufValueType.UInt64, Checked(items));
    public static GgufArray Of(long[] items) => new(GgufValueType.Int64, Checked(items));
    public static GgufArray Of(double[] items) => new(GgufValueType.Float64, Checked(items));

    public static GgufArray Of(string[] items)
    {
        Checked(items);
        if (System.Array.IndexOf(items, null) >= 0) throw new ArgumentException("GGUF string arrays cannot hold null", nameof(items));
        return new(GgufValueType.String, items);
    }

    public static GgufArray Of(GgufArray[] items)
    {
        Checked(items);
        if (System.Array.IndexOf(items, null) >= 0) throw new ArgumentException("GGUF arrays of arrays cannot hold null", nameof(items));
        return new(GgufValueType.Array, items);
    }

    private static T[] Checked<T>(T[] items) => items ?? throw new ArgumentNullException(nameof(items));

    /// <summary>The elements as <typeparamref name="T"/>[]; throws naming the stored element type when it differs.</summary>
    public T[] As<T>() => Items as T[] ?? throw new InvalidCastException($"GGUF array holds {ElementType}, not {typeof(T).Name}");

    public bool Equals(GgufArray? other)
    {
        if (other is null || other.ElementType != ElementType || other.Count != Count) return false;
        for (int i = 0; i < Count; i++)
        {
            object? a = Items.GetValue(i), b = other.Items.GetValue(i);
            if (!Equals(a, b)) return false;
        }
        return true;
    }

    public override bool Equals(object? obj) => Equals(obj as GgufArray);
    public override int GetHashCode() => HashCode.Combine(ElementType, Count);
    public override string ToString() => $"[{ElementType} x {Count}]";
}
