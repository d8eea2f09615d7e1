using System.Net;
using System.Net.Sockets;
using NativeBuffers.AspNetCore.Transport;

namespace NativeBuffers.AspNetCore.Tests.Transport;

/// <summary>The gathering send NativeSocketConnection uses for array memory, on a real loopback TCP pair.</summary>
public class BufferListSenderTests
{
    [Fact]
    public async Task A_list_larger_than_the_socket_buffers_waits_for_the_reader_and_arrives_whole_and_in_order()
    {
        (Socket sending, Socket receiving) = await ConnectPairAsync();
        using (sending)
        using (receiving)
        using (var sender = new BufferListSender())
        {
            (List<ArraySegment<byte>> segments, byte[] expected) = Segments(count: 64, seed: 1);

            ValueTask<int> send = sender.SendAsync(sending, segments);
            // Nobody reads yet, and the bytes are many times what both small socket buffers hold: the send must wait,
            // so it completes through OnCompleted on another thread.
            Assert.False(send.IsCompleted, "the send did not have to wait; the test no longer covers the waiting path");
            byte[] received = await ReceiveAsync(receiving, expected.Length);
            Assert.Equal(expected.Length, await send.AsTask().WaitAsync(TimeSpan.FromMinutes(1)));
            Assert.True(received.AsSpan().SequenceEqual(expected), "the bytes arrived changed or out of order");

            // The same sender again, after a send that waited.
            (segments, expected) = Segments(count: 3, seed: 2);
            Task<byte[]> reading = ReceiveAsync(receiving, expected.Length);
            Assert.Equal(expected.Length, await sender.SendAsync(sending, segments));
            Assert.True((await reading).AsSpan().SequenceEqual(expected));
        }
    }

    [Fact]
    public async Task Disposing_the_socket_under_a_waiting_send_fails_the_send()
    {
        (Socket sending, Socket receiving) = await ConnectPairAsync();
        using (receiving)
        using (var sender = new BufferListSender())
        {
            ValueTask<int> send = sender.SendAsync(sending, Segments(count: 64, seed: 3).Segments);
            Assert.False(send.IsCompleted);
            sending.Dispose(); // what an abort does to the connection's socket
            Exception error = await Assert.ThrowsAnyAsync<Exception>(() => send.AsTask().WaitAsync(TimeSpan.FromMinutes(1)));
            // The connection's send loop treats exactly these as the end of the connection.
            Assert.True(error is SocketException or ObjectDisposedException, $"unexpected {error}");
        }
    }

    [Fact]
    public async Task A_send_to_a_peer_that_reset_the_connection_fails_with_a_socket_exception()
    {
        (Socket sending, Socket receiving) = await ConnectPairAsync();
        using (sending)
        using (var sender = new BufferListSender())
        {
            receiving.LingerState = new LingerOption(true, 0); // close with RST
            receiving.Dispose();
            // The reset has arrived once a receive sees it; a send after that fails at once, synchronously.
            await Assert.ThrowsAsync<SocketException>(async () => await sending.ReceiveAsync(new byte[1], SocketFlags.None));
            await Assert.ThrowsAsync<SocketException>(async () => await sender.SendAsync(sending, Segments(count: 2, seed: 4).Segments));
        }
    }

    /// <summary>A connected loopback TCP pair whose buffers are as small as the kernel allows.</summary>
    private static async Task<(Socket Sending, Socket Receiving)> ConnectPairAsync()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var receiving = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
        await receiving.ConnectAsync(listener.LocalEndPoint!);
        Socket sending = await listener.AcceptAsync();
        sending.SendBufferSize = 4096;
        return (sending, receiving);
    }

    /// <summary>Segments of varied lengths at varied offsets inside larger arrays, and their bytes in order.</summary>
    private static (List<ArraySegment<byte>> Segments, byte[] Expected) Segments(int count, int seed)
    {
        var random = new Random(seed);
        var segments = new List<ArraySegment<byte>>();
        var expected = new List<byte>();
        for (int i = 0; i < count; i++)
        {
            byte[] array = new byte[8192];
            random.NextBytes(array);
            int offset = random.Next(0, 4096);
            var segment = new ArraySegment<byte>(array, offset, random.Next(1, array.Length - offset + 1));
            segments.Add(segment);
            expected.AddRange(segment);
        }
        return (segments, expected.ToArray());
    }

    private static async Task<byte[]> ReceiveAsync(Socket socket, int length)
    {
        byte[] received = new byte[length];
        for (int at = 0; at < length;)
        {
            int read = await socket.ReceiveAsync(received.AsMemory(at), SocketFlags.None).AsTask().WaitAsync(TimeSpan.FromMinutes(1));
            Assert.True(read > 0, "the sender closed before everything arrived");
            at += read;
        }
        return received;
    }
}
