namespace NativeBuffers.Diagnostics;

/// <summary>Why a pool gave memory back (payload of event 4, PoolTrimmed). Values are stable.</summary>
internal enum TrimReason
{
    /// <summary>The application called <c>Trim()</c>.</summary>
    Explicit = 1,
    /// <summary>A gen-2 garbage collection under memory pressure (reserved for the automatic trimming policy).</summary>
    MemoryPressure = 2,
    /// <summary>Buffers sat unused past the idle timeout (reserved for the automatic trimming policy).</summary>
    Idle = 3,
}
