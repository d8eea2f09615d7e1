namespace NativeBuffers;

/// <summary>
/// Thrown by a pool in guarded mode (<see cref="NativePoolOptions.Guarded"/>) when a buffer that had been returned
/// was written to while it waited in the quarantine: some code kept a span or pointer past the end of its lease.
/// </summary>
/// <remarks>
/// Only buffers the guard could not make inaccessible (below a page, beyond the mapping budget's share, or on the
/// portable layer) are checked; a write to a protected one faults at the write instead. The check runs when the
/// buffer leaves the quarantine (pushed out by a later return, or by Trim), so the exception comes from that later
/// Return or Trim, whose own work has completed: the pool stays consistent. One found while a Resize quarantines
/// what it vacated is thrown by the next Return or Trim, since the resize has succeeded. The corrupted memory goes
/// back to the arena (its contents are garbage, not unsafe). Derives from <see cref="InvalidOperationException"/>,
/// the pool's misuse exception.
/// </remarks>
public sealed class StaleWriteException : InvalidOperationException
{
    /// <summary>Creates the exception with a message describing the stale write.</summary>
    public StaleWriteException(string message, long bufferBytes, long offset, byte found, byte expected, string? rentStackTrace)
        : base(message)
    {
        BufferBytes = bufferBytes;
        Offset = offset;
        Found = found;
        Expected = expected;
        RentStackTrace = rentStackTrace;
    }

    /// <summary>The capacity in bytes of the returned buffer that was written to.</summary>
    public long BufferBytes { get; }

    /// <summary>The byte offset, from the buffer's start, of the first byte that differs from the pattern.</summary>
    public long Offset { get; }

    /// <summary>The value found at <see cref="Offset"/>.</summary>
    public byte Found { get; }

    /// <summary>The pattern byte that should have been there.</summary>
    public byte Expected { get; }

    /// <summary>Where the buffer's last tenant rented it, when <see cref="NativePoolOptions.CaptureRentStackTraces"/> is on; otherwise null.</summary>
    public string? RentStackTrace { get; }
}
