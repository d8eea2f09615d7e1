using System.Buffers;
using NativeBuffers.Pooling;

namespace NativeBuffers.Tests.Collections;

/// <summary>Reaches the internal sequence builder with a small segment length, so chains can be tested with little data.</summary>
internal static class NativeSequenceAccess
{
    public static ReadOnlySequence<T> Create<T>(NativeBuffer<T> lease, long length, int maxSegmentLength) where T : unmanaged =>
        NativeBuffers.Collections.NativeSequence.Create(lease, length, "A ReadOnlySequence from a test", TestOrigin.Instance, maxSegmentLength);

    /// <summary>The origin of a sequence over a test's own lease, which nothing grows.</summary>
    private sealed class TestOrigin : IMemoryOrigin
    {
        public static readonly TestOrigin Instance = new();

        public string Name => "the test";

        public int Epoch => 0;

        public string DescribeEnd(int epoch) => "the test ended the lease it views.";
    }
}
