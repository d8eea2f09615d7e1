using NativeBuffers.Interop;

namespace NativeBuffers.Os;

/// <summary>
/// The result of a virtual-memory primitive: 0 for success, otherwise an errno value. The Os layer never
/// throws; the arena decides what a failure means.
/// </summary>
internal readonly record struct OsError(int Errno)
{
    public static OsError Success => default;
    public static OsError OutOfMemory => new(Libc.ENOMEM);
    public static OsError Fault => new(Libc.EFAULT);
    public static OsError Exists => new(Libc.EEXIST);
    public static OsError InvalidArgument => new(Libc.EINVAL);
    public static OsError NotSupported => new(Libc.ENOSYS);

    public bool IsSuccess => Errno == 0;
    public bool IsFailure => Errno != 0;

    public override string ToString() => Errno switch
    {
        0 => "success",
        Libc.ENOMEM => "ENOMEM",
        Libc.EFAULT => "EFAULT",
        Libc.EEXIST => "EEXIST",
        Libc.EINVAL => "EINVAL",
        Libc.ENOSYS => "ENOSYS",
        Libc.EPERM => "EPERM",
        _ => $"errno {Errno}",
    };
}
