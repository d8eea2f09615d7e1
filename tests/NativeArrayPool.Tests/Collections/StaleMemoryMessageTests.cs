using System.Buffers;

namespace NativeBuffers.Tests.Collections;

/// <summary>
/// A memory or sequence a collection handed out, used after the collection grew past it or was disposed, says what the user held and
/// what happened to it, in the collection's terms: never a lease, a Resize or "the lease Rent gave you", which the
/// user of a writer or a stream never saw.
/// </summary>
public class StaleMemoryMessageTests
{
    private static void AssertSpeaksOfTheCollection(string message)
    {
        Assert.DoesNotContain("Resize", message);
        Assert.DoesNotContain("lease", message);
        // "Retire" is the pool's word for ending a lease (docs/glossary.md); the collection says what it did instead.
        Assert.DoesNotContain("retire", message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void WrittenMemory_after_the_writer_grew_says_the_writer_grew()
    {
        using var writer = new NativeBufferWriter<byte>(16);
        writer.Write([1, 2, 3]);
        ReadOnlyMemory<byte> written = writer.WrittenMemory;
        writer.GetSpan(1 << 16); // grows

        var e = Assert.Throws<ObjectDisposedException>(() => written.Span.Length);

        Assert.Contains("NativeBufferWriter<Byte>.WrittenMemory", e.Message);
        Assert.Contains("NativeBufferWriter<Byte> grew", e.Message);
        AssertSpeaksOfTheCollection(e.Message);
    }

    [Fact]
    public void WrittenSequence_after_the_writer_was_disposed_says_the_writer_was_disposed()
    {
        var writer = new NativeBufferWriter<int>(16);
        writer.Write([1, 2, 3]);
        ReadOnlySequence<int> written = writer.WrittenSequence;
        writer.Dispose();

        var e = Assert.Throws<ObjectDisposedException>(() => written.First.Span.Length);

        Assert.Contains("NativeBufferWriter<Int32>.WrittenSequence", e.Message);
        Assert.Contains("was disposed", e.Message);
        AssertSpeaksOfTheCollection(e.Message);
    }

    [Fact]
    public void GetMemory_after_the_writers_pool_was_disposed_says_the_pool_was_disposed()
    {
        var pool = NativeArrayPool<byte>.Create();
        using var writer = new NativeBufferWriter<byte>(pool);
        Memory<byte> free = writer.GetMemory(10);
        pool.Dispose();

        var e = Assert.Throws<ObjectDisposedException>(() => free.Pin());

        Assert.Contains("GetMemory", e.Message);
        Assert.Contains("pool the NativeBufferWriter<Byte> rents from was disposed", e.Message);
        AssertSpeaksOfTheCollection(e.Message);
    }

    [Fact]
    public void A_writer_grown_and_then_disposed_names_the_growth_that_came_first()
    {
        var writer = new NativeBufferWriter<byte>(16);
        ReadOnlyMemory<byte> early = writer.GetMemory(4);
        writer.Advance(4);
        writer.GetSpan(1 << 16);
        writer.Dispose();

        var e = Assert.Throws<ObjectDisposedException>(() => early.Span.Length);

        Assert.Contains("NativeBufferWriter<Byte> grew", e.Message);
    }

    [Fact]
    public void The_streams_sequence_after_it_grew_says_the_stream_grew()
    {
        using var stream = new NativeMemoryStream();
        stream.Write(new byte[100]);
        ReadOnlySequence<byte> sequence = stream.GetReadOnlySequence();
        stream.Write(new byte[10_000]); // grows

        var e = Assert.Throws<ObjectDisposedException>(() => sequence.First.Span.Length);

        Assert.Contains("NativeMemoryStream.GetReadOnlySequence", e.Message);
        Assert.Contains("NativeMemoryStream grew", e.Message);
        AssertSpeaksOfTheCollection(e.Message);
    }

    [Fact]
    public void The_streams_sequence_after_it_was_disposed_or_its_pool_was_says_which()
    {
        var stream = new NativeMemoryStream();
        stream.Write(new byte[100]);
        ReadOnlySequence<byte> sequence = stream.GetReadOnlySequence();
        stream.Dispose();
        var disposed = Assert.Throws<ObjectDisposedException>(() => sequence.First.Span.Length);

        var pool = NativeArrayPool<byte>.Create();
        using var other = new NativeMemoryStream(pool);
        other.Write(new byte[100]);
        ReadOnlySequence<byte> orphaned = other.GetReadOnlySequence();
        pool.Dispose();
        var poolDisposed = Assert.Throws<ObjectDisposedException>(() => orphaned.First.Span.Length);

        Assert.Contains("NativeMemoryStream was disposed", disposed.Message);
        Assert.Contains("pool the NativeMemoryStream rents from was disposed", poolDisposed.Message);
        AssertSpeaksOfTheCollection(disposed.Message);
        AssertSpeaksOfTheCollection(poolDisposed.Message);
    }
}
