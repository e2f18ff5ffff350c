"""The demo and the local fake platforms: everything that runs the product without accounts.

``monitor demo`` (:mod:`monitor.demo.run`) plays a school week (:mod:`monitor.demo.data`) on the
fake platforms (:mod:`monitor.demo.fakes`, also the test suite's oracles) and shows what the
moderator receives (:mod:`monitor.demo.view`). The product's own modules never import from here;
only the command line reaches in, for ``monitor demo``.
"""
