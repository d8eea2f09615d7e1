namespace NativeBuffers;

/// <summary>
/// A lease that is out (or was leaked), as the lease table of a pool with <see cref="NativePoolOptions.TrackLeases"/>
/// or <see cref="NativePoolOptions.Guarded"/> saw it when it was rented or last resized.
/// </summary>
/// <param name="Bytes">The buffer's capacity in bytes.</param>
/// <param name="Address">Where the buffer starts (for matching with other diagnostics; do not dereference).</param>
/// <param name="RentStackTrace">Where it was rented or last resized, with <see cref="NativePoolOptions.CaptureRentStackTraces"/>; otherwise null.</param>
public readonly record struct NativeLeaseInfo(long Bytes, nint Address, string? RentStackTrace)
{
    /// <summary>Describes the lease, with its rent stack when one was captured.</summary>
    public override string ToString() =>
        $"lease on {Bytes} bytes at 0x{Address:x}" + (RentStackTrace is null ? "" : $", rented at:{Environment.NewLine}{RentStackTrace}");
}
