// Command libcni-driver runs a CNI network list through the real libcni, the way a container runtime does.
//
// It exists so that macmux's integration tests drive macmux exactly as containerd, CRI-O or podman do:
// libcni loads the conflist, injects capability args as runtimeConfig into the plugins that declare
// them, chains prevResult, keeps its own result cache and hands the cached result to CHECK and DEL.
//
// Usage:
//
//	libcni-driver -conflist FILE -plugin-dirs DIR[:DIR...] -cache-dir DIR \
//	    -container-id ID -netns PATH -ifname NAME [-args 'K=V;K=V'] [-cap-args JSON] VERB
//
// VERB is add (AddNetworkList), check (CheckNetworkList), del (DelNetworkList) or cached
// (GetNetworkListCachedResult). add and cached print the result JSON on stdout (cached prints null
// when libcni has none); check and del print nothing. On failure it prints one JSON object and exits 1:
// a plugin's error as libcni decoded it (*types.Error: code, msg, details), plus "error" holding the
// whole message libcni returned (with its own wrapping); an error from libcni itself has no code.
//
// Built offline in GOPATH mode against Debian's golang-github-appc-cni-dev (libcni 1.1.2), which
// needs nothing outside the standard library: see scripts/build-libcni-driver.sh.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
)

func main() {
	conflist := flag.String("conflist", "", "the network list file (libcni.ConfListFromFile)")
	pluginDirs := flag.String("plugin-dirs", "", "directories searched for plugins, ':'-separated (libcni passes them as CNI_PATH)")
	cacheDir := flag.String("cache-dir", "", "libcni's cache directory (results/<network>-<container>-<ifname>)")
	containerID := flag.String("container-id", "", "RuntimeConf.ContainerID")
	netns := flag.String("netns", "", "RuntimeConf.NetNS")
	ifName := flag.String("ifname", "eth0", "RuntimeConf.IfName")
	cniArgs := flag.String("args", "", "RuntimeConf.Args as a CNI_ARGS string: K=V pairs separated by ';'")
	capArgs := flag.String("cap-args", "", "RuntimeConf.CapabilityArgs as a JSON object, e.g. {\"mac\":\"02:..\",\"portMappings\":[...]}")
	flag.Parse()
	if flag.NArg() != 1 || *conflist == "" || *pluginDirs == "" || *cacheDir == "" {
		fmt.Fprintln(os.Stderr, "usage: libcni-driver -conflist FILE -plugin-dirs DIRS -cache-dir DIR -container-id ID -netns PATH -ifname NAME [-args ARGS] [-cap-args JSON] add|check|del|cached")
		os.Exit(2)
	}

	list, err := libcni.ConfListFromFile(*conflist)
	if err != nil {
		fail(err)
	}
	rt := &libcni.RuntimeConf{ContainerID: *containerID, NetNS: *netns, IfName: *ifName, Args: parseArgs(*cniArgs)}
	if *capArgs != "" {
		if err := json.Unmarshal([]byte(*capArgs), &rt.CapabilityArgs); err != nil {
			fail(fmt.Errorf("-cap-args: %w", err))
		}
	}
	cni := libcni.NewCNIConfigWithCacheDir(strings.Split(*pluginDirs, ":"), *cacheDir, nil)
	ctx := context.Background()

	switch verb := flag.Arg(0); verb {
	case "add":
		result, err := cni.AddNetworkList(ctx, list, rt)
		if err != nil {
			fail(err)
		}
		printJSON(result)
	case "check":
		if err := cni.CheckNetworkList(ctx, list, rt); err != nil {
			fail(err)
		}
	case "del":
		if err := cni.DelNetworkList(ctx, list, rt); err != nil {
			fail(err)
		}
	case "cached":
		result, err := cni.GetNetworkListCachedResult(list, rt)
		if err != nil {
			fail(err)
		}
		printJSON(result)
	default:
		fmt.Fprintf(os.Stderr, "unknown verb %q: want add, check, del or cached\n", verb)
		os.Exit(2)
	}
}

// parseArgs splits a CNI_ARGS string into RuntimeConf.Args pairs, as runtimes build them.
func parseArgs(s string) [][2]string {
	var out [][2]string
	for _, pair := range strings.Split(s, ";") {
		if pair == "" {
			continue
		}
		kv := strings.SplitN(pair, "=", 2)
		if len(kv) == 1 {
			kv = append(kv, "")
		}
		out = append(out, [2]string{kv[0], kv[1]})
	}
	return out
}

// fail prints the error as JSON on stdout and exits 1.
func fail(err error) {
	out := map[string]interface{}{"error": err.Error()}
	var cniErr *types.Error
	if errors.As(err, &cniErr) {
		out["code"] = cniErr.Code
		out["msg"] = cniErr.Msg
		if cniErr.Details != "" {
			out["details"] = cniErr.Details
		}
	}
	printJSON(out)
	os.Exit(1)
}

func printJSON(v interface{}) {
	b, err := json.Marshal(v)
	if err != nil {
		fmt.Fprintf(os.Stderr, "cannot encode output: %v\n", err)
		os.Exit(1)
	}
	fmt.Println(string(b))
}
