using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace NativeBuffers.AspNetCore.Tests;

/// <summary>
/// One keep-alive HTTP/1.1 connection that reads the response while it is still sending the request body.
/// </summary>
/// <remarks>
/// A streaming echo needs a client like this. HttpClient (SocketsHttpHandler) finishes sending an HTTP/1.1 request body
/// before it reads the response. The server, which writes the echo as it reads, then stops reading once its output is
/// blocked, and the exchange deadlocks as soon as the body is larger than the pipes and socket buffers between the two
/// can hold. On this machine, with Kestrel's own transport and pool, that happens between 8 and 16 MiB. This client
/// therefore sends on one task and reads on another.
/// </remarks>
internal sealed class DuplexHttpConnection : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly byte[] _buffer = new byte[64 * 1024];
    private int _start;
    private int _end;

    private DuplexHttpConnection(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
    }

    public static async Task<DuplexHttpConnection> ConnectAsync(Uri address)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(IPAddress.Parse(address.Host), address.Port);
        return new DuplexHttpConnection(socket);
    }

    /// <summary>POSTs <paramref name="body"/> and returns the status code and the SHA-256 of the response body.</summary>
    public async Task<(int Status, byte[] BodyHash, long BodyLength)> PostAsync(string path, byte[] body)
    {
        string head = string.Create(CultureInfo.InvariantCulture,
            $"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nContent-Length: {body.Length}\r\n\r\n");
        Task sending = SendAsync(Encoding.ASCII.GetBytes(head), body);
        (int status, byte[] hash, long length) response = await ReceiveAsync();
        await sending;
        return response;
    }

    private async Task SendAsync(byte[] head, byte[] body)
    {
        await _stream.WriteAsync(head);
        // Slices of varied size, so the server sees the body arrive in many reads of different lengths.
        var random = new Random(body.Length);
        for (int offset = 0; offset < body.Length;)
        {
            int count = Math.Min(body.Length - offset, random.Next(1, 256 * 1024));
            await _stream.WriteAsync(body.AsMemory(offset, count));
            offset += count;
        }
    }

    private async Task<(int, byte[], long)> ReceiveAsync()
    {
        int headEnd;
        while ((headEnd = _buffer.AsSpan(_start, _end - _start).IndexOf("\r\n\r\n"u8)) < 0)
            await FillAsync();
        string head = Encoding.ASCII.GetString(_buffer, _start, headEnd);
        _start += headEnd + 4;

        string[] lines = head.Split("\r\n");
        int status = int.Parse(lines[0].Split(' ')[1], CultureInfo.InvariantCulture);
        string? contentLength = lines.Skip(1)
            .Select(line => line.Split(':', 2))
            .Where(parts => parts[0].Trim().Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
            .Select(parts => parts[1].Trim())
            .SingleOrDefault();
        if (contentLength is null)
            throw new InvalidDataException($"The response has no Content-Length; the test's echo always sets it. Head:\n{head}");

        long remaining = long.Parse(contentLength, CultureInfo.InvariantCulture);
        long length = remaining;
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        while (remaining > 0)
        {
            if (_start == _end)
                await FillAsync();
            int take = (int)Math.Min(remaining, _end - _start);
            hash.AppendData(_buffer, _start, take);
            _start += take;
            remaining -= take;
        }
        return (status, hash.GetHashAndReset(), length);
    }

    private async Task FillAsync()
    {
        if (_start == _end)
            _start = _end = 0;
        else if (_end == _buffer.Length)
        {
            if (_start == 0)
                throw new InvalidDataException("The response head is larger than 64 KiB.");
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }
        int read = await _stream.ReadAsync(_buffer.AsMemory(_end));
        if (read == 0)
            throw new EndOfStreamException("The server closed the connection before the response was complete.");
        _end += read;
    }

    public ValueTask DisposeAsync()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
            // the server closed first
        }
        return _stream.DisposeAsync();
    }
}
