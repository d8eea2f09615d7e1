using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace NativeBuffers.Tests.Pooling;

/// <summary>
/// <see cref="NativeBuffer{T}.AsMemory()"/> and <see cref="NativeArrayPool{T}.RentOwner"/> with the consumers that
/// need a <see cref="Memory{T}"/> (file streams, <see cref="RandomAccess"/>, sockets), and what a memory kept past
/// its lease does.
/// </summary>
public class NativeBufferMemoryTests : IDisposable
{
    private readonly NativeArrayPool<byte> _pool = NativeArrayPool<byte>.Create();
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"nap-memory-{Guid.NewGuid():N}.bin");

    public void Dispose()
    {
        _pool.Dispose();
        File.Delete(_path);
    }

    private static byte[] Bytes(int count, int seed)
    {
        var data = new byte[count];
        new Random(seed).NextBytes(data);
        return data;
    }

    [Fact]
    public async Task FileStream_ReadAsync_fills_a_lease_through_its_memory()
    {
        byte[] expected = Bytes(300_000, seed: 1);
        await File.WriteAllBytesAsync(_path, expected);
        NativeBuffer<byte> buffer = _pool.Rent(expected.Length);

        await using (var file = new FileStream(_path, FileMode.Open, FileAccess.Read, FileShare.Read, 4096, useAsync: true))
        {
            int total = 0;
            while (total < expected.Length)
            {
                // A window per read: the memory of a part of the lease, as a reader that fills a buffer piecewise does.
                int read = await file.ReadAsync(buffer.AsMemory(total, expected.Length - total));
                Assert.NotEqual(0, read);
                total += read;
            }
        }

        Assert.True(buffer.AsSpan(0, expected.Length).SequenceEqual(expected));
        _pool.Return(buffer);
    }

    [Fact]
    public async Task RandomAccess_writes_from_one_lease_and_reads_into_another()
    {
        byte[] expected = Bytes(1 << 20, seed: 2);
        NativeBuffer<byte> source = _pool.Rent(expected.Length);
        NativeBuffer<byte> target = _pool.Rent(expected.Length);
        expected.CopyTo(source.AsSpan(0, expected.Length));

        using (SafeFileHandle handle = File.OpenHandle(_path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, FileOptions.Asynchronous))
        {
            // Two writes at offsets, so the windows' starts are used, then one read of the whole.
            await RandomAccess.WriteAsync(handle, source.AsMemory(0, 1000), fileOffset: 0);
            await RandomAccess.WriteAsync(handle, source.AsMemory(1000, expected.Length - 1000), fileOffset: 1000);
            int read = 0;
            while (read < expected.Length)
                read += await RandomAccess.ReadAsync(handle, target.AsMemory(read, expected.Length - read), fileOffset: read);
        }

        Assert.True(target.AsSpan(0, expected.Length).SequenceEqual(expected));
        _pool.Return(source);
        _pool.Return(target);
    }

    [Fact]
    public async Task A_socket_pair_sends_from_and_receives_into_leases()
    {
        byte[] expected = Bytes(2_000_000, seed: 3);
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        Task<Socket> accepting = listener.AcceptAsync();
        await client.ConnectAsync(listener.LocalEndPoint!);
        using Socket server = await accepting;

        NativeBuffer<byte> outgoing = _pool.Rent(expected.Length);
        NativeBuffer<byte> incoming = _pool.Rent(expected.Length);
        expected.CopyTo(outgoing.AsSpan(0, expected.Length));

        async Task SendAll()
        {
            for (int sent = 0; sent < expected.Length;)
                sent += await client.SendAsync(outgoing.AsMemory(sent, expected.Length - sent), SocketFlags.None);
            client.Shutdown(SocketShutdown.Send);
        }

        async Task<int> ReceiveAll()
        {
            int received = 0;
            while (true)
            {
                int n = await server.ReceiveAsync(incoming.AsMemory(received, (int)incoming.Length - received), SocketFlags.None);
                if (n == 0)
                    return received;
                received += n;
            }
        }

        Task sending = SendAll();
        int total = await ReceiveAll();
        await sending;

        Assert.Equal(expected.Length, total);
        Assert.True(incoming.AsSpan(0, expected.Length).SequenceEqual(expected));
        _pool.Return(outgoing);
        _pool.Return(incoming);
    }

    [Fact]
    public void Memory_of_a_returned_lease_throws_on_Span_and_Pin_and_never_reaches_the_next_tenant()
    {
        _pool.Trim(); // an empty cache, so the next rent of the class gets the same memory back
        NativeBuffer<byte> buffer = _pool.Rent(4096);
        Memory<byte> whole = buffer.AsMemory();
        Memory<byte> window = buffer.AsMemory(100, 50);
        nint address;
        unsafe { address = (nint)buffer.Pointer; }
        _pool.Return(buffer);
        NativeBuffer<byte> next = _pool.Rent(4096);
        unsafe { Assert.Equal(address, (nint)next.Pointer); } // the same memory, a new tenant

        var e = Assert.Throws<ObjectDisposedException>(() => { _ = whole.Span; });
        Assert.Throws<ObjectDisposedException>(() => whole.Pin());
        Assert.Throws<ObjectDisposedException>(() => { _ = window.Span; });
        Assert.Throws<ObjectDisposedException>(() => window.Slice(10).Pin());

        Assert.Contains("NativeBuffer<Byte>.AsMemory", e.Message);
        Assert.Contains("returned to its pool or replaced by Resize", e.Message);
        Assert.True(next.IsValid);
        _pool.Return(next);
    }

    [Fact]
    public void Memory_of_a_resized_lease_throws_and_the_new_lease_gives_new_memory()
    {
        NativeBuffer<long> buffer = NativeArrayPool<long>.Shared.Rent(1000);
        buffer.AsSpan().Fill(5);
        Memory<long> before = buffer.AsMemory(0, 1000);

        NativeArrayPool<long>.Shared.Resize(ref buffer, 1_000_000);

        Assert.Throws<ObjectDisposedException>(() => { _ = before.Span; });
        Assert.Throws<ObjectDisposedException>(() => before.Pin());
        Memory<long> after = buffer.AsMemory(0, 1000);
        Assert.True(after.Span.IndexOfAnyExcept(5L) < 0);
        using (MemoryHandle pin = after.Slice(999).Pin())
        {
            unsafe { Assert.Equal(5L, *(long*)pin.Pointer); }
        }
        NativeArrayPool<long>.Shared.Return(buffer);
    }

    [Fact]
    public void Memory_of_a_lease_whose_pool_was_disposed_says_so()
    {
        var pool = NativeArrayPool<int>.Create();
        NativeBuffer<int> buffer = pool.Rent(100);
        Memory<int> memory = buffer.AsMemory();
        pool.Dispose();

        var e = Assert.Throws<ObjectDisposedException>(() => { _ = memory.Span; });

        Assert.Contains("pool that rented its buffer was disposed", e.Message);
        Assert.DoesNotContain("Resize", e.Message);
        buffer.Dispose(); // lets the orphaned memory go
    }

    [Fact]
    public void Memory_pins_without_a_handle_at_the_element_asked_for()
    {
        NativeBuffer<int> buffer = NativeArrayPool<int>.Shared.Rent(64);
        for (int i = 0; i < 64; i++) buffer[i] = i;
        Memory<int> memory = buffer.AsMemory(8, 16);

        Assert.True(MemoryMarshal.TryGetMemoryManager<int, MemoryManager<int>>(memory, out MemoryManager<int>? manager));
        using (MemoryHandle pin = memory.Slice(3).Pin())
        {
            unsafe { Assert.Equal(11, *(int*)pin.Pointer); }
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => manager!.Pin(17));
        NativeArrayPool<int>.Shared.Return(buffer);
    }

    [Fact]
    public void AsMemory_checks_windows_like_AsSpan()
    {
        NativeBuffer<byte> buffer = _pool.Rent(64);
        long length = buffer.Length;

        Assert.Throws<ArgumentOutOfRangeException>(() => buffer.AsMemory(-1, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => buffer.AsMemory(length, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => buffer.AsMemory(1, (int)length));
        Assert.Throws<ArgumentOutOfRangeException>(() => buffer.AsMemory(0, -1));
        Assert.Equal(0, buffer.AsMemory(length, 0).Length);
        Assert.Equal(length, buffer.AsMemory().Length);
        _pool.Return(buffer);

        Assert.Throws<ObjectDisposedException>(() => buffer.AsMemory());
        Assert.Throws<ObjectDisposedException>(() => buffer.AsMemory(0, 1));
        Assert.True(default(NativeBuffer<byte>).AsMemory().IsEmpty);
        Assert.True(_pool.Rent(0).AsMemory().IsEmpty);
    }

    [Theory]
    [InlineData(1L << 44, 1)]          // 16 TiB: the largest buffer's end, far past this one
    [InlineData(long.MaxValue, 0)]
    [InlineData(long.MaxValue, 1)]
    [InlineData(long.MinValue, 0)]
    [InlineData(-1L, 0)]
    public void AsMemory_refuses_windows_at_huge_or_negative_offsets_without_wrapping(long start, int length)
    {
        NativeBuffer<long> buffer = NativeArrayPool<long>.Shared.Rent(1000);

        var e = Assert.Throws<ArgumentOutOfRangeException>(() => buffer.AsMemory(start, length));

        Assert.Equal("start", e.ParamName);
        Assert.True(buffer.IsValid);
        NativeArrayPool<long>.Shared.Return(buffer);
    }

    [Fact]
    public void A_buffer_longer_than_a_Memory_is_reached_through_windows()
    {
        NativeBuffer<byte> big = _pool.Rent(3L << 30); // address space only: pages are touched on write

        var e = Assert.Throws<InvalidOperationException>(() => big.AsMemory());
        Assert.Contains("AsMemory(start, length)", e.Message);
        Memory<byte> tail = big.AsMemory((3L << 30) - 4096, 4096);
        tail.Span.Fill(7);
        Assert.Equal(7, big[(3L << 30) - 1]);
        _pool.Return(big);
    }

    [Fact]
    public async Task An_owner_reads_a_file_and_its_Dispose_returns_the_buffer_once()
    {
        byte[] expected = Bytes(70_000, seed: 4);
        await File.WriteAllBytesAsync(_path, expected);
        IMemoryOwner<byte> owner = _pool.RentOwner(expected.Length);
        Assert.True(owner.Memory.Length >= expected.Length);

        await using (var file = new FileStream(_path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, useAsync: true))
        {
            int total = 0;
            while (total < expected.Length)
                total += await file.ReadAsync(owner.Memory[total..expected.Length]);
        }
        Assert.True(owner.Memory.Span[..expected.Length].SequenceEqual(expected));
        Memory<byte> kept = owner.Memory;

        owner.Dispose();
        owner.Dispose();

        NativePoolStatistics stats = _pool.GetStatistics();
        Assert.Equal(1, stats.Returns);
        Assert.Equal(0, stats.InUseBytes);
        Assert.Equal(0, stats.MisuseDetected);
        Assert.Throws<ObjectDisposedException>(() => owner.Memory);
        var e = Assert.Throws<ObjectDisposedException>(() => { _ = kept.Span; });
        Assert.Throws<ObjectDisposedException>(() => kept.Pin());
        Assert.Contains("RentOwner", e.Message);
        Assert.Contains("owner was disposed", e.Message);
    }

    [Fact]
    public void Owners_of_any_element_type_cover_at_least_what_was_asked()
    {
        using IMemoryOwner<long> none = NativeArrayPool<long>.Shared.RentOwner(0);
        Assert.True(none.Memory.IsEmpty);
        using IMemoryOwner<(int, double)> records = NativeArrayPool<(int, double)>.Shared.RentOwner(1000);
        Assert.True(records.Memory.Length >= 1000);
        records.Memory.Span.Fill((3, 0.5));
        Assert.Equal((3, 0.5), records.Memory.Span[999]);
        Assert.Throws<ArgumentOutOfRangeException>(() => _pool.RentOwner(-1));
    }

    [Fact]
    public void Racing_Disposes_of_an_owner_return_its_buffer_exactly_once()
    {
        for (int round = 0; round < 200; round++)
        {
            IMemoryOwner<byte> owner = _pool.RentOwner(5000);
            using var start = new Barrier(2);
            Thread other = new(() =>
            {
                start.SignalAndWait();
                owner.Dispose();
            });
            other.Start();
            start.SignalAndWait();
            owner.Dispose();
            other.Join();
        }

        NativePoolStatistics stats = _pool.GetStatistics();
        Assert.Equal(200, stats.Returns);
        Assert.Equal(stats.Rents, stats.Returns);
        Assert.Equal(0, stats.MisuseDetected);
        Assert.Null(_pool.Core.Arena.Validate());
    }

    [Fact]
    public void An_owner_whose_pool_was_disposed_says_so_and_its_Dispose_lets_the_memory_go()
    {
        var pool = NativeArrayPool<byte>.Create();
        IMemoryOwner<byte> owner = pool.RentOwner(100);
        Memory<byte> kept = owner.Memory;
        pool.Dispose();

        var e = Assert.Throws<ObjectDisposedException>(() => owner.Memory);
        Assert.Contains("pool that rented its buffer was disposed", e.Message);
        Assert.DoesNotContain("lease", e.Message); // the owner's user never held one
        Assert.Throws<ObjectDisposedException>(() => { _ = kept.Span; });
        owner.Dispose();
        owner.Dispose();
        Assert.Throws<ObjectDisposedException>(() => pool.RentOwner(10));
    }
}
