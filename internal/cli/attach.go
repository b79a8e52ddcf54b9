package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/coder/websocket"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/server"
)

// The detach keys, as Docker's: ctrl-p then ctrl-q.
const (
	keyCtrlP = 0x10
	keyCtrlQ = 0x11
)

func newAttachCmd(f *factory) *cobra.Command {
	var replica int
	cmd := &cobra.Command{
		Use:   "attach [OPTIONS] SERVICE",
		Short: "Connect your terminal to a service's terminal (tty or stdin_open); detach with ctrl-p ctrl-q",
		Long: `Attach connects this terminal to a running service that was started on a terminal
(tty: true or stdin_open: true in compose.yaml): type into it, see its output, drive a
debugger such as pdb at a breakpoint(). Its output still reaches the logs. Detach with
ctrl-p ctrl-q; the service goes on.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, _, err := f.client(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			conn, err := c.Attach(cmd.Context(), args[0], replica)
			if err != nil {
				return err
			}
			detached, err := runTerminal(cmd.Context(), f, conn)
			if detached {
				fmt.Fprintln(f.ios.ErrOut, "\r\nberth: detached (the service goes on)")
			}
			return err
		},
	}
	cmd.Flags().IntVar(&replica, "index", 0, "replica to attach to (default: the first running one)")
	return cmd
}

// runTerminal joins the local terminal to a remote one until the process
// ends, the user detaches (ctrl-p ctrl-q), or ctx ends. When stdin is a
// terminal it is put in raw mode and its size follows the window.
func runTerminal(ctx context.Context, f *factory, conn *websocket.Conn) (detached bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer conn.CloseNow()
	in, isFile := f.ios.In.(*os.File)
	if isFile && f.ios.IsStdinTTY() {
		restore, err := makeRaw(int(in.Fd()))
		if err != nil {
			return false, fmt.Errorf("put the terminal in raw mode: %w", err)
		}
		defer restore()
		sendSize(ctx, conn, int(in.Fd()))
		winch := make(chan os.Signal, 1)
		signal.Notify(winch, syscall.SIGWINCH)
		defer signal.Stop(winch)
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case <-winch:
					sendSize(ctx, conn, int(in.Fd()))
				}
			}
		}()
	}
	detach := make(chan struct{})
	go func() {
		// Reads of stdin cannot be interrupted: this goroutine ends at the
		// next keystroke or EOF after the session ends.
		buf := make([]byte, 4096)
		sawP := false
		for {
			n, err := f.ios.In.Read(buf)
			chunk := buf[:n]
			for i, b := range chunk {
				if sawP && b == keyCtrlQ {
					close(detach)
					return
				}
				sawP = b == keyCtrlP
				if sawP && i == len(chunk)-1 {
					chunk = chunk[:i] // hold back a trailing ctrl-p
				}
			}
			if len(chunk) > 0 {
				if conn.Write(ctx, websocket.MessageBinary, append([]byte(nil), chunk...)) != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	out := make(chan error, 1)
	go func() {
		for {
			_, b, err := conn.Read(ctx)
			if err != nil {
				out <- err
				return
			}
			if _, err := f.ios.Out.Write(b); err != nil {
				out <- err
				return
			}
		}
	}()
	select {
	case <-detach:
		conn.Close(websocket.StatusNormalClosure, "detached")
		return true, nil
	case <-ctx.Done():
		return false, withExit(ExitInterrupted, nil)
	case err := <-out:
		if websocket.CloseStatus(err) == websocket.StatusNormalClosure || errors.Is(err, io.EOF) {
			return false, nil
		}
		return false, fmt.Errorf("terminal session: %w", err)
	}
}

func sendSize(ctx context.Context, conn *websocket.Conn, fd int) {
	ws, err := unix.IoctlGetWinsize(fd, unix.TIOCGWINSZ)
	if err != nil {
		return
	}
	var m server.ResizeMessage
	m.Resize.Cols, m.Resize.Rows = int(ws.Col), int(ws.Row)
	b, _ := json.Marshal(m)
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_ = conn.Write(wctx, websocket.MessageText, b)
}

// makeRaw puts the terminal fd in raw mode (as cfmakeraw does) and returns
// a function that restores it.
func makeRaw(fd int) (func(), error) {
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, err
	}
	raw := *old
	raw.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	raw.Oflag &^= unix.OPOST
	raw.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	raw.Cflag &^= unix.CSIZE | unix.PARENB
	raw.Cflag |= unix.CS8
	raw.Cc[unix.VMIN] = 1
	raw.Cc[unix.VTIME] = 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &raw); err != nil {
		return nil, err
	}
	return func() { _ = unix.IoctlSetTermios(fd, unix.TCSETS, old) }, nil
}
