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

    [Fact]
    public void The_lists_sequence_after_it_grew_says_the_list_grew()
    {
        using var list = new NativeList<int>(4);
        list.AddRange([1, 2, 3]);
        ReadOnlySequence<int> sequence = list.AsSequence();
        list.EnsureCapacity(1 << 16); // grows

        var e = Assert.Throws<ObjectDisposedException>(() => sequence.First.Span.Length);

        Assert.Contains("NativeList<Int32>.AsSequence", e.Message);
        Assert.Contains("NativeList<Int32> grew", e.Message);
        AssertSpeaksOfTheCollection(e.Message);
    }

    [Fact]
    public void The_lists_sequence_after_it_was_disposed_or_its_pool_was_says_which()
    {
        var list = new NativeList<long>();
        list.AddRange([1, 2, 3]);
        ReadOnlySequence<long> sequence = list.AsSequence();
        list.Dispose();
        var disposed = Assert.Throws<ObjectDisposedException>(() => sequence.First.Span.Length);

        var pool = NativeArrayPool<long>.Create();
        using var other = new NativeList<long>(pool);
        other.AddRange([1, 2, 3]);
        ReadOnlySequence<long> orphaned = other.AsSequence();
        pool.Dispose();
        var poolDisposed = Assert.Throws<ObjectDisposedException>(() => orphaned.First.Span.Length);

        Assert.Contains("NativeList<Int64>.AsSequence", disposed.Message);
        Assert.Contains("NativeList<Int64> was disposed", disposed.Message);
        Assert.Contains("pool the NativeList<Int64> rents from was disposed", poolDisposed.Message);
        AssertSpeaksOfTheCollection(disposed.Message);
        AssertSpeaksOfTheCollection(poolDisposed.Message);
    }

    [Fact]
    public void Clearing_the_list_keeps_its_sequence_valid_as_the_memory_stays()
    {
        using var list = new NativeList<int>();
        list.AddRange([1, 2, 3]);
        ReadOnlySequence<int> sequence = list.AsSequence();
        list.Clear();
        list.Add(7);

        Assert.Equal(7, sequence.First.Span[0]);
    }

    [Fact]
    public void A_char_writers_ToString_after_its_pool_was_disposed_describes_it_instead_of_throwing()
    {
        var pool = NativeArrayPool<char>.Create();
        using var writer = new NativeBufferWriter<char>(pool);
        writer.Write("abc");
        Assert.Equal("abc", writer.ToString());
        pool.Dispose();

        Assert.Equal("NativeBufferWriter<Char>[3]", writer.ToString());
    }

    /// <summary>
    /// The same for collections that never rented (an empty list or stream holds the pool's empty lease, which the
    /// pool's disposal does not end): the first growth after the pool was disposed must name the collection too.
    /// </summary>
    [Theory]
    [InlineData("list.Add")]
    [InlineData("list.EnsureCapacity")]
    [InlineData("stream.WriteByte")]
    [InlineData("stream.SetLength")]
    public void An_empty_collection_grown_after_its_pool_was_disposed_says_so_in_its_own_words(string member)
    {
        var ints = NativeArrayPool<int>.Create();
        var bytes = NativeArrayPool<byte>.Create();
        var list = new NativeList<int>(ints);
        var stream = new NativeMemoryStream(bytes);
        ints.Dispose();
        bytes.Dispose();

        Action use = member switch
        {
            "list.Add" => () => list.Add(4),
            "list.EnsureCapacity" => () => list.EnsureCapacity(10),
            "stream.WriteByte" => () => stream.WriteByte(4),
            "stream.SetLength" => () => stream.SetLength(10),
            _ => throw new ArgumentOutOfRangeException(nameof(member)),
        };
        string holder = member.StartsWith("list", StringComparison.Ordinal) ? "NativeList<Int32>" : "NativeMemoryStream";

        var e = Assert.Throws<ObjectDisposedException>(use);

        Assert.Equal(holder, e.ObjectName);
        Assert.Contains($"pool the {holder} rents from was disposed", e.Message);
        list.Dispose();
        stream.Dispose();
    }

    public static TheoryData<string> CollectionMembers() =>
    [
        "list[0]", "list.Add", "list.AddRange", "list.Insert", "list.RemoveAt", "list.AsSpan", "list.ToArray",
        "list.GetEnumerator", "list.EnsureCapacity", "list.Sort", "list.IndexOf", "list.BinarySearch", "list.CopyTo",
        "writer.GetSpan", "writer.GetSpan(big)", "writer.WrittenSpan", "writer.Write", "writer.Clear",
        "stream.ReadByte", "stream.WriteByte", "stream.Write(big)", "stream.SetLength", "stream.ToArray", "stream.Seek+WriteByte",
    ];

    /// <summary>
    /// A collection whose pool was disposed under it is named in the exception, with what happened: never the
    /// NativeBuffer, lease or Resize that the user of a list, writer or stream never held.
    /// </summary>
    [Theory]
    [MemberData(nameof(CollectionMembers))]
    public void A_collection_used_after_its_pool_was_disposed_says_so_in_its_own_words(string member)
    {
        var ints = NativeArrayPool<int>.Create();
        var bytes = NativeArrayPool<byte>.Create();
        var list = new NativeList<int>(ints);
        list.AddRange([3, 1, 2]);
        var writer = new NativeBufferWriter<byte>(bytes);
        writer.Write([1, 2, 3]);
        var stream = new NativeMemoryStream(bytes);
        stream.Write([1, 2, 3]);
        ints.Dispose();
        bytes.Dispose();

        Action use = member switch
        {
            "list[0]" => () => _ = list[0],
            "list.Add" => () => list.Add(4),
            "list.AddRange" => () => list.AddRange([4]),
            "list.Insert" => () => list.Insert(1, 4),
            "list.RemoveAt" => () => list.RemoveAt(1),
            "list.AsSpan" => () => list.AsSpan(),
            "list.ToArray" => () => list.ToArray(),
            "list.GetEnumerator" => () => list.GetEnumerator(),
            "list.EnsureCapacity" => () => list.EnsureCapacity(1 << 20),
            "list.Sort" => () => list.Sort(),
            "list.IndexOf" => () => list.IndexOf(2),
            "list.BinarySearch" => () => list.BinarySearch(2),
            "list.CopyTo" => () => list.CopyTo(new int[3]),
            "writer.GetSpan" => () => writer.GetSpan(1),
            "writer.GetSpan(big)" => () => writer.GetSpan(1 << 20),
            "writer.WrittenSpan" => () => _ = writer.WrittenSpan,
            "writer.Write" => () => writer.Write([4]),
            "writer.Clear" => writer.Clear,
            "stream.ReadByte" => () => { stream.Position = 0; stream.ReadByte(); },
            "stream.WriteByte" => () => stream.WriteByte(4),
            "stream.Write(big)" => () => stream.Write(new byte[1 << 20]),
            "stream.SetLength" => () => stream.SetLength(10),
            "stream.ToArray" => () => stream.ToArray(),
            "stream.Seek+WriteByte" => () => { stream.Seek(100_000, SeekOrigin.Begin); stream.WriteByte(4); },
            _ => throw new ArgumentOutOfRangeException(nameof(member)),
        };
        string holder = member[..4] switch
        {
            "list" => "NativeList<Int32>",
            "writ" => "NativeBufferWriter<Byte>",
            _ => "NativeMemoryStream",
        };

        var e = Assert.Throws<ObjectDisposedException>(use);

        Assert.Equal(holder, e.ObjectName);
        Assert.Contains($"pool the {holder} rents from was disposed", e.Message);
        AssertSpeaksOfTheCollection(e.Message);
        Assert.DoesNotContain("NativeBuffer<", e.Message);
        list.Dispose();
        writer.Dispose();
        stream.Dispose();
    }
}
