namespace NativeBuffers.Diagnostics;

/// <summary>What misuse the pool detected (payload of event 6, MisuseDetected). Values are stable.</summary>
internal enum MisuseKind
{
    /// <summary>A lease was returned or resized after it had already been returned or replaced by a resize.</summary>
    DoubleReturn = 1,
    /// <summary>A lease was returned to (or resized by) a pool that did not rent it.</summary>
    ForeignLease = 2,
    /// <summary>A <c>default</c> lease, which no pool rented, was returned (a resize of one rents instead).</summary>
    DefaultLease = 3,
}
