using NativeBuffers.StressHost;

// Usage: NativeArrayPool.StressHost mapcount | addressspace | runtimeneeds [HEADROOM] | headroom | sharedreserve | shareddispose | sharedcreation | sharedreentrant
// Exit code 0: every check held. 1: a check failed (the reason is on stdout). Anything else: the process died.
try
{
    return args.Length > 0 && args[0] == "mapcount" ? MapCountExhaustion.Run()
         : args.Length > 0 && args[0] == "addressspace" ? AddressSpaceLimit.Run()
         : args.Length > 0 && args[0] == "runtimeneeds" ? RuntimeNeeds.Run(args)
         : args.Length > 0 && args[0] == "headroom" ? HeadroomReserve.Run()
         : args.Length > 0 && args[0] == "sharedreserve" ? SharedReserve.Run()
         : args.Length > 0 && args[0] == "shareddispose" ? SharedDispose.Run()
         : args.Length > 0 && args[0] == "sharedcreation" ? SharedCreation.Run()
         : args.Length > 0 && args[0] == "sharedreentrant" ? SharedReentrantCreation.Run()
         : Usage();
}
catch (CheckFailedException e)
{
    Console.WriteLine($"FAIL {e.Message}");
    return 1;
}

static int Usage()
{
    Console.WriteLine("usage: NativeArrayPool.StressHost mapcount | addressspace | runtimeneeds [HEADROOM] | headroom | sharedreserve | shareddispose | sharedcreation | sharedreentrant");
    return 2;
}
