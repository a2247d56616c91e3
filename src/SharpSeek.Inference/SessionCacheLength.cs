using System.Reflection;
using SharpSeek.Model;

namespace SharpSeek.Inference;

/// <summary>
/// Declares how many leading positions of a session's KV cache hold valid rows after the context cache wrote them
/// directly into <see cref="InferenceSession.Cache"/>. <see cref="InferenceSession"/> has no public way to say so
/// yet (its Length only grows through Forward), so this binds its non-public Length setter once; the model project
/// is asked for a public <c>AdoptCachedPrefix(int length)</c> to replace it. When the setter is not there the context
/// cache reports misses (it never serves a prefix it could not install).
/// </summary>
internal static class SessionCacheLength
{
    private static readonly Action<InferenceSession, int>? s_set = Bind();

    public static bool IsAvailable => s_set is not null;

    public static void Set(InferenceSession session, int length)
    {
        if (s_set is null) throw new NotSupportedException("InferenceSession offers no way to adopt restored cache rows");
        if (length < 0 || length > session.MaxContext) throw new ArgumentOutOfRangeException(nameof(length));
        s_set(session, length);
    }

    private static Action<InferenceSession, int>? Bind()
    {
        var setter = typeof(InferenceSession).GetProperty(nameof(InferenceSession.Length), BindingFlags.Public | BindingFlags.Instance)?.GetSetMethod(nonPublic: true);
        return setter?.CreateDelegate<Action<InferenceSession, int>>();
    }
}
