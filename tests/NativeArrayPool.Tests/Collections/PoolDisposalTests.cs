namespace NativeBuffers.Tests.Collections;

/// <summary>
/// A collection that outlives its pool must report the disposal, never touch unmapped memory, and still dispose
/// quietly (the pool already took the memory back).
/// </summary>
public class PoolDisposalTests
{
    [Fact]
    public void List_throws_ObjectDisposed_after_its_pool_is_disposed()
    {
        var pool = NativeArrayPool<int>.Create();
        var list = new NativeList<int>(pool);
        list.AddRange([1, 2, 3]);
        pool.Dispose();
        Assert.Throws<ObjectDisposedException>(() => list[0]);
        Assert.Throws<ObjectDisposedException>(() => list.Add(4));               // room left: writes through the stale lease
        Assert.Throws<ObjectDisposedException>(() => list.EnsureCapacity(1 << 20)); // growth goes to the disposed pool
        Assert.Throws<ObjectDisposedException>(() => list.RemoveAt(0));
        Assert.Throws<ObjectDisposedException>(() => list.IndexOf(2));
        Assert.Throws<ObjectDisposedException>(() => list.Sort());
        Assert.Throws<ObjectDisposedException>(() => list.BinarySearch(2));
        Assert.Throws<ObjectDisposedException>(() => list.CopyTo(new int[3]));
        Assert.Throws<ObjectDisposedException>(() => list.GetEnumerator());
        list.Dispose();
    }

    [Fact]
    public void Writer_throws_ObjectDisposed_after_its_pool_is_disposed()
    {
        var pool = NativeArrayPool<byte>.Create();
        var writer = new NativeBufferWriter<byte>(pool);
        Memory<byte> memory = writer.GetMemory(10);
        writer.Advance(10);
        pool.Dispose();
        Assert.Throws<ObjectDisposedException>(() => writer.GetSpan(1));
        Assert.Throws<ObjectDisposedException>(() => writer.GetSpan(1 << 20));
        Assert.Throws<ObjectDisposedException>(() => writer.WrittenSpan.Length);
        Assert.Throws<ObjectDisposedException>(() => memory.Span.Length);
        Assert.Throws<ObjectDisposedException>(writer.Clear);
        writer.Dispose();
    }

    [Fact]
    public void Stream_throws_ObjectDisposed_after_its_pool_is_disposed()
    {
        var pool = NativeArrayPool<byte>.Create();
        var stream = new NativeMemoryStream(pool);
        stream.Write([1, 2, 3]);
        pool.Dispose();
        stream.Position = 0;
        Assert.Throws<ObjectDisposedException>(() => stream.ReadByte());
        Assert.Throws<ObjectDisposedException>(() => stream.WriteByte(1));
        Assert.Throws<ObjectDisposedException>(() => stream.SetLength(10));
        Assert.Throws<ObjectDisposedException>(() => stream.Write(new byte[1 << 20]));
        stream.Dispose();
    }
}
