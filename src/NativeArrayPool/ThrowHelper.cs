using System.Diagnostics.CodeAnalysis;

namespace NativeBuffers;

/// <summary>
/// Every exception the library throws is built here, so hot paths keep a single call to a cold method and
/// every message says what went wrong and what to do about it.
/// </summary>
internal static partial class ThrowHelper
{
    // ArgumentOutOfRangeException appends "Actual value was X." to the message when given the value, so the messages
    // built here say what the range is and never repeat the value.

    [DoesNotReturn]
    public static void ThrowNegativeLength(string paramName, long value) =>
        throw new ArgumentOutOfRangeException(paramName, value, $"{paramName} must be zero or positive.");

    [DoesNotReturn]
    public static void ThrowTooLarge(string paramName, long length, long maxLength) =>
        throw new ArgumentOutOfRangeException(paramName, length,
            $"{paramName} is more than the pool's largest buffer of {maxLength} elements (16 TiB). Split the data or use several buffers.");

    /// <summary>Throws with <paramref name="value"/> as the actual value; <paramref name="message"/> must not state it (the exception appends it).</summary>
    [DoesNotReturn]
    public static void ThrowArgumentOutOfRange(string paramName, object? value, string message) =>
        throw new ArgumentOutOfRangeException(paramName, value, message);

    /// <summary>
    /// A window [start, start+length) that does not lie inside a <paramref name="container"/> of <paramref name="size"/>
    /// elements. The message shows the whole window, so no single actual value is attached.
    /// </summary>
    [DoesNotReturn]
    public static void ThrowWindowOutside(string paramName, long start, long length, long size, string container) =>
        throw new ArgumentOutOfRangeException(paramName, $"The window [{start}, {start}+{length}) is not inside the {container} of {size} elements.");

    [DoesNotReturn]
    public static void ThrowArgument(string paramName, string message) => throw new ArgumentException(message, paramName);

    [DoesNotReturn]
    public static void ThrowDefaultLease(string paramName) =>
        throw new ArgumentException("The buffer is a default NativeBuffer that no pool rented. Rent buffers with NativeArrayPool<T>.Rent.", paramName);

    [DoesNotReturn]
    public static void ThrowForeignLease(string paramName) =>
        throw new ArgumentException("The buffer was rented from a different pool. Return a buffer to the pool that rented it.", paramName);

    [DoesNotReturn]
    public static void ThrowStaleReturn(string paramName, long capacity, int leaseGeneration, int currentGeneration, string? whereEnded = null)
    {
        // Odd generations are rented: say whether the memory sits in the pool or already serves another lease.
        string now = (currentGeneration & 1) != 0
            ? "its memory has since been rented again and belongs to another lease now"
            : "its memory is back in the pool";
        string what = (leaseGeneration & 1) == 0
            ? $"{paramName} is not a lease the pool handed out (its generation {leaseGeneration} is never a rented one): it was forged or corrupted"
            : $"{paramName} (a lease on {capacity} bytes) was already returned, or was resized (which replaces it), and {now}";
        string first = whereEnded is null ? "" : $"{Environment.NewLine}The lease was {whereEnded}";
        throw new InvalidOperationException($"{what}. Return each buffer once, and keep only the lease Resize gives back.{first}");
    }

    [DoesNotReturn]
    public static void ThrowStaleLease(string elementTypeName, bool poolDisposed) =>
        throw new ObjectDisposedException($"NativeBuffer<{elementTypeName}>", poolDisposed
            ? "The pool that rented this buffer was disposed, which ends every lease still out. Rent from a pool that outlives the work."
            : "This buffer was returned to its pool or replaced by Resize; its memory may belong to someone else now. Use the lease that Rent or Resize gave you last.");

    /// <summary>
    /// A collection (list, writer, stream) whose lease ended under it, which only its pool's disposal does: the exception
    /// names the collection (<paramref name="holderName"/>) and what happened to it, in its own words
    /// (<paramref name="end"/>, a clause that completes "… can no longer be used: ").
    /// </summary>
    [DoesNotReturn]
    public static void ThrowHolderEnded(string holderName, string end) =>
        throw new ObjectDisposedException(holderName, $"This {holderName} can no longer be used: {end}");

    /// <summary>A <see cref="Memory{T}"/> or sequence over a lease that has ended; the message names what the user held.</summary>
    [DoesNotReturn]
    public static void ThrowStaleMemoryView(string objectName, string message) => throw new ObjectDisposedException(objectName, message);

    [DoesNotReturn]
    public static void ThrowStaleMemory(bool ownerDisposed) =>
        throw new ObjectDisposedException("IMemoryOwner<byte>", ownerDisposed
            ? "This memory from NativeMemoryPool.Rent was given back to the pool: its owner was disposed. Keep the owner until you are done with its Memory, and rent again for new work."
            : "This memory from NativeMemoryPool.Rent ended when its pool was disposed. Dispose a pool only after the work that rents from it.");

    [DoesNotReturn]
    public static void ThrowInvalidBufferSize(int minBufferSize) =>
        throw new ArgumentOutOfRangeException("minBufferSize", minBufferSize, "minBufferSize must be -1 (the default size) or between 0 and int.MaxValue.");

    [DoesNotReturn]
    public static void ThrowPoolDisposed() =>
        throw new ObjectDisposedException("NativeArrayPool", "The pool was disposed and its memory released. Create a new pool, or use NativeArrayPool<T>.Shared.");

    [DoesNotReturn]
    public static void ThrowSharedPoolDispose() =>
        throw new InvalidOperationException("The shared pool lives as long as the process and cannot be disposed. Dispose only pools made with NativeArrayPool<T>.Create.");

    [DoesNotReturn]
    public static void ThrowSpanTooLong(long length, string view = "Span<T>", string windowMethod = "AsSpan") =>
        throw new InvalidOperationException($"The buffer holds {length} elements, more than a {view} can (int.MaxValue). Use {windowMethod}(start, length) to view a part of it.");

    [DoesNotReturn]
    public static void ThrowNotTracking() =>
        throw new InvalidOperationException("This pool does not track leases. Create it with NativePoolOptions.TrackLeases (or Guarded) set to list the leases that are out.");

    [DoesNotReturn]
    public static void ThrowOutOfMemory(string message) => throw new InsufficientMemoryException(message);

    [DoesNotReturn]
    public static void ThrowInvalidOptions(string message) => throw new ArgumentException(message, "options");

    [DoesNotReturn]
    public static void ThrowInvalidEnvironmentVariable(string variable, string message) => throw new ArgumentException(message, variable);
}
