using System.Buffers;

namespace NativeBuffers.Tests.Collections;

/// <summary>Reaches the internal sequence builder with a small segment length, so chains can be tested with little data.</summary>
internal static class NativeSequenceAccess
{
    public static ReadOnlySequence<T> Create<T>(NativeBuffer<T> lease, long length, int maxSegmentLength) where T : unmanaged =>
        NativeBuffers.Collections.NativeSequence.Create(lease, length, maxSegmentLength);
}
