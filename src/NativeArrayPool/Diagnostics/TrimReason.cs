namespace NativeBuffers.Diagnostics;

/// <summary>Why a pool gave memory back (payload of event 4, PoolTrimmed). Values are stable.</summary>
internal enum TrimReason
{
    /// <summary>The application called <c>Trim()</c>.</summary>
    Explicit = 1,
    /// <summary>A gen-2 garbage collection under memory pressure (<see cref="NativePoolOptions.TrimOnMemoryPressure"/>).</summary>
    MemoryPressure = 2,
    /// <summary>Free memory sat unused past <see cref="NativePoolOptions.IdleTrimDelay"/>.</summary>
    Idle = 3,
}
