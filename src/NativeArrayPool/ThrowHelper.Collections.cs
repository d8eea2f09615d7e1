using System.Diagnostics.CodeAnalysis;

namespace NativeBuffers;

// The collections' throws: NativeList<T>, NativeBufferWriter<T>, NativeMemoryStream.
internal static partial class ThrowHelper
{
    [DoesNotReturn]
    public static void ThrowCollectionDisposed(string typeName) =>
        throw new ObjectDisposedException(typeName, $"This {typeName} was disposed and its memory returned to the pool. Create a new one.");

    [DoesNotReturn]
    public static void ThrowIndexOutOfRange(string paramName, long index, long count) =>
        throw new ArgumentOutOfRangeException(paramName, index, $"The index is outside [0, {count}): the collection holds {count} elements.");

    [DoesNotReturn]
    public static void ThrowInsertIndexOutOfRange(long index, long count) =>
        throw new ArgumentOutOfRangeException("index", index, $"The index is outside [0, {count}]: an element can be inserted before any of the {count} elements or at the end.");

    [DoesNotReturn]
    public static void ThrowRangeOutsideCollection(string paramName, long index, long count, long size) =>
        throw new ArgumentException($"The range [{index}, {index}+{count}) is not inside the collection of {size} elements.", paramName);

    [DoesNotReturn]
    public static void ThrowTooManyForSpan(string what, long count, string alternative) =>
        throw new InvalidOperationException($"{what} holds {count} elements, more than a span or Memory<T> can (int.MaxValue). Use {alternative} instead.");

    [DoesNotReturn]
    public static void ThrowCollectionTooLarge(string typeName, long needed, long maxLength) =>
        throw new InsufficientMemoryException($"{typeName} would need {needed} elements, more than the pool's largest buffer of {maxLength} elements (16 TiB).");

    [DoesNotReturn]
    public static void ThrowEnumerationModified() =>
        throw new InvalidOperationException("The collection was modified after the enumerator was created; enumeration cannot continue. Finish enumerating before adding, inserting or removing.");

    /// <summary>
    /// One helper for both ways an enumeration can end early, so an enumerator's MoveNext holds one call to a method
    /// without a return (a bare throw): the JIT then treats the branch as cold and keeps the loop's state in registers.
    /// </summary>
    [DoesNotReturn]
    public static void ThrowEnumerationEnded(bool disposed, string typeName) =>
        throw (disposed
            ? new ObjectDisposedException(typeName, $"This {typeName} was disposed and its memory returned to the pool. Create a new one.")
            : new InvalidOperationException("The collection was modified after the enumerator was created; enumeration cannot continue. Finish enumerating before adding, inserting or removing."));

    [DoesNotReturn]
    public static void ThrowEnumerationNotStarted() =>
        throw new InvalidOperationException("Enumeration has not started or has already finished: call MoveNext and read Current only while it returns true.");

    [DoesNotReturn]
    public static void ThrowComparerFailed(Exception inner) =>
        throw new InvalidOperationException("The comparer threw an exception; the elements are left in an unspecified order. See the inner exception.", inner);

    [DoesNotReturn]
    public static void ThrowCountTooLargeForInt(string typeName, long count) =>
        throw new OverflowException($"This {typeName} holds {count} elements, more than an int Count (ICollection<T>, IReadOnlyCollection<T>, LINQ's Count() and Any()) can report. Read the long Count property instead.");

    [DoesNotReturn]
    public static void ThrowDestinationTooShort(string paramName, long needed, long available) =>
        throw new ArgumentException($"The destination has room for {available} elements, fewer than the {needed} to copy. Pass a larger destination or copy a window.", paramName);

    [DoesNotReturn]
    public static void ThrowAdvancedTooFar(int count, long free) =>
        throw new ArgumentException($"Advance({count}) goes past the end of the buffer, which has {free} free elements. Advance at most by the length of the span or memory GetSpan/GetMemory returned.", "count");

    [DoesNotReturn]
    public static void ThrowSeekBeforeBegin() =>
        throw new IOException("An attempt was made to move the position before the beginning of the stream.");

    [DoesNotReturn]
    public static void ThrowStreamTooLong(long length) =>
        throw new IOException($"The stream would grow to {length} bytes, past the largest buffer the pool can hold (16 TiB).");

    [DoesNotReturn]
    public static void ThrowInvalidSeekOrigin(System.IO.SeekOrigin origin) =>
        throw new ArgumentException($"{origin} is not a SeekOrigin value: use Begin, Current or End.", "origin");
}
