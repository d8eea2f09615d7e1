using System.Buffers;
using NativeBuffers.Pooling;

namespace NativeBuffers.Collections;

/// <summary>
/// Builds <see cref="ReadOnlySequence{T}"/> views over the first elements of a lease: one segment when they fit
/// a <see cref="Memory{T}"/>, else a chain of segments of at most <see cref="MaxSegmentLength"/> elements each,
/// which is how data beyond 2 GiB reaches APIs (PipeWriter, hashing, parsers) that take sequences.
/// </summary>
internal static class NativeSequence
{
    /// <summary>
    /// The default segment length for chains: 2^30 elements, the largest power of two a <see cref="Memory{T}"/> can
    /// hold, so segment boundaries fall on aligned offsets.
    /// </summary>
    public const int MaxSegmentLength = 1 << 30;

    /// <summary>A sequence over elements [0, <paramref name="length"/>) of <paramref name="lease"/>.</summary>
    /// <param name="lease">The lease to view; the sequence throws <see cref="ObjectDisposedException"/> once it is stale.</param>
    /// <param name="length">How many elements from the start, at most the lease's length.</param>
    /// <param name="what">What the user holds, for the message when it is used stale: "A ReadOnlySequence from NativeMemoryStream.GetReadOnlySequence".</param>
    /// <param name="origin">The collection that made it, asked what ended it.</param>
    /// <param name="maxSegmentLength">The longest segment; tests lower it to build chains from small data.</param>
    public static ReadOnlySequence<T> Create<T>(NativeBuffer<T> lease, long length, string what, IMemoryOrigin origin, int maxSegmentLength = MaxSegmentLength) where T : unmanaged
    {
        if (length == 0)
            return ReadOnlySequence<T>.Empty;
        if (length <= maxSegmentLength)
            return new ReadOnlySequence<T>(new NativeMemoryManager<T>(lease, 0, (int)length, what, origin).Memory);

        var first = new Segment<T>(new NativeMemoryManager<T>(lease, 0, maxSegmentLength, what, origin).Memory, 0);
        Segment<T> last = first;
        for (long start = maxSegmentLength; start < length; start += maxSegmentLength)
        {
            int segmentLength = (int)Math.Min(maxSegmentLength, length - start);
            last = last.Append(new NativeMemoryManager<T>(lease, start, segmentLength, what, origin).Memory);
        }
        return new ReadOnlySequence<T>(first, 0, last, last.Memory.Length);
    }

    private sealed class Segment<T> : ReadOnlySequenceSegment<T>
    {
        public Segment(ReadOnlyMemory<T> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment<T> Append(ReadOnlyMemory<T> memory)
        {
            var next = new Segment<T>(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
