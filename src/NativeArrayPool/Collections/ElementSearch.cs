using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace NativeBuffers.Collections;

/// <summary>
/// Linear search in a span by <see cref="EqualityComparer{T}.Default"/>, the equality <see cref="List{T}.IndexOf(T)"/>
/// uses. <see cref="MemoryExtensions.IndexOf{T}(Span{T}, T)"/> would vectorize, but needs <c>T : IEquatable&lt;T&gt;</c>,
/// which an unmanaged type parameter does not promise; so types whose equality is their bits (integers, chars,
/// enums) are searched as same-size integers, which is the span search, and everything else element by element.
/// </summary>
/// <remarks>Not bitwise: floating point (0.0 equals -0.0, NaN equals NaN of any payload), bool (any non-zero byte
/// is true), and structs, whose Equals may be anything.</remarks>
internal static class ElementSearch
{
    public static int IndexOf<T>(ReadOnlySpan<T> span, T value) where T : unmanaged
    {
        if (IsBitwiseEquatable<T>())
        {
            switch (Unsafe.SizeOf<T>())
            {
                case 1: return MemoryMarshal.Cast<T, byte>(span).IndexOf(Unsafe.As<T, byte>(ref value));
                case 2: return MemoryMarshal.Cast<T, ushort>(span).IndexOf(Unsafe.As<T, ushort>(ref value));
                case 4: return MemoryMarshal.Cast<T, uint>(span).IndexOf(Unsafe.As<T, uint>(ref value));
                case 8: return MemoryMarshal.Cast<T, ulong>(span).IndexOf(Unsafe.As<T, ulong>(ref value));
            }
        }
        for (int i = 0; i < span.Length; i++)
        {
            if (EqualityComparer<T>.Default.Equals(span[i], value))
                return i;
        }
        return -1;
    }

    public static int LastIndexOf<T>(ReadOnlySpan<T> span, T value) where T : unmanaged
    {
        if (IsBitwiseEquatable<T>())
        {
            switch (Unsafe.SizeOf<T>())
            {
                case 1: return MemoryMarshal.Cast<T, byte>(span).LastIndexOf(Unsafe.As<T, byte>(ref value));
                case 2: return MemoryMarshal.Cast<T, ushort>(span).LastIndexOf(Unsafe.As<T, ushort>(ref value));
                case 4: return MemoryMarshal.Cast<T, uint>(span).LastIndexOf(Unsafe.As<T, uint>(ref value));
                case 8: return MemoryMarshal.Cast<T, ulong>(span).LastIndexOf(Unsafe.As<T, ulong>(ref value));
            }
        }
        for (int i = span.Length - 1; i >= 0; i--)
        {
            if (EqualityComparer<T>.Default.Equals(span[i], value))
                return i;
        }
        return -1;
    }

    // typeof tests on a type parameter are constants to the JIT, so this folds away per instantiation.
    private static bool IsBitwiseEquatable<T>() =>
        typeof(T) == typeof(byte) || typeof(T) == typeof(sbyte)
        || typeof(T) == typeof(short) || typeof(T) == typeof(ushort) || typeof(T) == typeof(char)
        || typeof(T) == typeof(int) || typeof(T) == typeof(uint)
        || typeof(T) == typeof(long) || typeof(T) == typeof(ulong)
        || typeof(T) == typeof(nint) || typeof(T) == typeof(nuint)
        || typeof(T).IsEnum;
}
