using System.Runtime.InteropServices;

namespace SharpSeek.Tensors.Quantization;

// Byte-exact mirrors of GGML's block structs (ggml-common.h). Pack = 1 because GGML's structs have no padding
// (every field is naturally aligned inside a packed run of blocks only because each size is a multiple of 2), and
// rows of these blocks are read straight out of memory-mapped GGUF files.

/// <summary>Q8_0: 32 weights as fp16 scale + 32 int8; x = d·q.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public unsafe struct BlockQ8_0
{
    public const int Elements = 32;
    public ushort D;
    public fixed sbyte Qs[32];
}

/// <summary>Q4_0: 32 weights as fp16 scale + 16 bytes; byte j holds element j (low nibble) and j+16 (high); x = (q−8)·d.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public unsafe struct BlockQ4_0
{
    public const int Elements = 32;
    public ushort D;
    public fixed byte Qs[16];
}

/// <summary>
/// Q4_K: 256 weights in 8 sub-blocks of 32. x = d·sc[j]·q − dmin·m[j] with 6-bit sc/m packed into 12 bytes
/// (see <see cref="BlockQuantizer.UnpackQ4KScales"/>). Nibbles: 32-byte group g holds sub-block 2g in its low nibbles
/// and sub-block 2g+1 in its high nibbles.
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public unsafe struct BlockQ4_K
{
    public const int Elements = 256;
    public ushort D;
    public ushort DMin;
    public fixed byte Scales[12];
    public fixed byte Qs[128];
}

/// <summary>
/// Q6_K: 256 weights in 16 sub-blocks of 16, x = d·scales[s]·(q−32) with 6-bit q split into 4 low bits (ql) and
/// 2 high bits (qh). Each 128-element half uses 64 ql bytes and 32 qh bytes: element l+32k (l &lt; 32, k &lt; 4) takes the
/// low (k even) or high (k odd) nibble of ql[l + 32·(k&amp;1)] and bits 2k..2k+1 of qh[l].
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public unsafe struct BlockQ6_K
{
    public const int Elements = 256;
    public fixed byte Ql[128];
    public fixed byte Qh[64];
    public fixed sbyte Scales[16];
    public ushort D;
}

/// <summary>Q8_K: activation format for K-quant dot products: f32 scale, 256 int8, and the sum of each run of 16.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public unsafe struct BlockQ8_K
{
    public const int Elements = 256;
    public float D;
    public fixed sbyte Qs[256];
    public fixed short BSums[16];
}
