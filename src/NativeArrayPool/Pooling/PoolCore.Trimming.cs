using System.Runtime.ExceptionServices;
using NativeBuffers.Diagnostics;

namespace NativeBuffers.Pooling;

// Giving memory back: the explicit Trim, and the two policies MemoryReclaimer drives (idle time, memory
// pressure). All of them leave rented buffers alone; see Arena.Trim.cs for what the arena discards.
internal sealed partial class PoolCore
{
    /// <summary>
    /// Explicit trim: empties the guard's quarantine, flushes this thread's cache (others flush on their next
    /// miss), unmaps empty reservations and discards the pages of free memory. Returns the bytes given back.
    /// </summary>
    public long Trim()
    {
        if (!TryEnterOperation())
            ThrowHelper.ThrowPoolDisposed();
        StaleWriteException? stale = null;
        long bytes;
        try
        {
            try
            {
                _guard?.Flush();
            }
            catch (StaleWriteException e)
            {
                stale = e; // finish the trim first: the quarantine is empty either way
            }
            FlushCaches();
            bytes = Arena.ReleaseUnused() + Arena.DiscardFree();
        }
        finally
        {
            ExitOperation();
        }
        // Events reach listeners' code, which may dispose the pool: raise them outside the operation.
        Interlocked.Increment(ref _trims);
        Diagnostics.OnTrimmed(bytes, TrimReason.Explicit);
        if (stale is not null)
            ExceptionDispatchInfo.Throw(stale); // keeps where the quarantine found the write
        return bytes;
    }

    /// <summary>Trim after a gen-2 GC under memory pressure (finalizer thread): every thread's cache is asked to flush.</summary>
    public void TrimOnPressure()
    {
        if (!TryEnterOperation())
            return;
        long bytes;
        try
        {
            Interlocked.Increment(ref _trimEpoch);
            bytes = Arena.ReleaseUnused() + Arena.DiscardFree();
        }
        finally
        {
            ExitOperation();
        }
        Interlocked.Increment(ref _trims);
        Interlocked.Increment(ref _pressureTrims);
        Diagnostics.OnTrimmed(bytes, TrimReason.MemoryPressure);
    }

    /// <summary>One idle-trim tick at <paramref name="now"/>; see <see cref="MemoryReclaimer"/>.</summary>
    public long TrimIdle(long now, long idleTicks)
    {
        if (!TryEnterOperation())
            return 0;
        long bytes;
        try
        {
            bytes = Arena.DiscardIdle(now, idleTicks);
        }
        finally
        {
            ExitOperation();
        }
        if (bytes > 0)
        {
            // The arena has been quiet: ask the threads to hand their cached buffers back too, for the next tick.
            Interlocked.Increment(ref _trimEpoch);
            Interlocked.Increment(ref _trims);
            Diagnostics.OnTrimmed(bytes, TrimReason.Idle);
        }
        return bytes;
    }
}
