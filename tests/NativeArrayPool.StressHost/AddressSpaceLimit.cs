namespace NativeBuffers.StressHost;

internal static class AddressSpaceLimit
{
    public static int Run() => 0;
}
